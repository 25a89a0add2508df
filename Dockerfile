# A minimal image: one static binary in an empty (scratch) root, run as a non-root uid.
#
# Build: docker build -t docusign-collector .          (or: scripts/image, podman or docker)
# Run:   docker run -d --name dsc --read-only \
#          -v /etc/docusign-collector:/etc/docusign-collector:ro \
#          -v docusign-collector-state:/var/lib/docusign-collector docusign-collector
#
# The binary is linked statically (glibc, +crt-static), resolves names with its own resolver
# (reqwest's hickory-dns: /etc/hosts and /etc/resolv.conf, which the engine provides) and
# carries its TLS roots (webpki roots), so the image needs no libraries, shell or CA bundle.
#
# Where the Rust builder image cannot be pulled, `scripts/image` builds the same binary on the
# host (scripts/ops/static-binary) and selects the `host` stage instead of `build` with
# `--build-arg BINARY=host`, giving a context directory that holds only the files the `host`
# stage copies. Both stages leave the same /out tree; the final stage is the same either way.
ARG BINARY=build

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --target x86_64-unknown-linux-gnu --features hickory-dns \
    && mkdir -p /out/state /out/rootfs/tmp /out/rootfs/var/lib /out/rootfs/etc/docusign-collector \
    && chmod 1777 /out/rootfs/tmp \
    && cp target/x86_64-unknown-linux-gnu/release/docusign-collector /out/rootfs/docusign-collector \
    && cp config/example.toml /out/rootfs/etc/docusign-collector/config.example.toml

# The host-built binary: the context is a directory laid out as /out (scripts/image makes it:
# rootfs/ with the binary, tmp/, var/lib/, etc/docusign-collector/; state/).
FROM scratch AS host
COPY . /out/

FROM ${BINARY} AS binary

FROM scratch
# /docusign-collector, /tmp (1777: the audit users' spill files), the example configuration.
COPY --from=binary /out/rootfs/ /
# The state directory (and so a new volume mounted on it) belongs to the collector's uid.
COPY --from=binary --chown=65532:65532 /out/state/ /var/lib/docusign-collector/
ENV DOCUSIGN_COLLECTOR_CONFIG=/etc/docusign-collector/config.toml
# A numeric uid:gid: scratch has no /etc/passwd. 65532 is distroless's "nonroot".
USER 65532:65532
VOLUME ["/var/lib/docusign-collector"]
# The local API, when [api] listens on 0.0.0.0:9464 in the configuration.
EXPOSE 9464
STOPSIGNAL SIGTERM
# The binary itself checks: /healthz when [api] is set, else that the state database opens.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/docusign-collector", "healthcheck"]
ENTRYPOINT ["/docusign-collector"]
CMD ["run"]
