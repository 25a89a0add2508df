# A minimal image: one static binary in an empty (scratch) root, run as a non-root uid.
#
# Build: docker build -t docusign-collector .
# Run:   docker run -d --name dsc \
#          -v /etc/docusign-collector:/etc/docusign-collector:ro \
#          -v docusign-collector-state:/var/lib/docusign-collector docusign-collector
#
# The binary is linked statically (glibc, +crt-static), resolves names with its own resolver
# (reqwest's hickory-dns: /etc/hosts and /etc/resolv.conf, which the engine provides) and
# carries its TLS roots (webpki roots), so the image needs no libraries, shell or CA bundle.
# scripts/empty-root-test runs this same binary in an empty root directory.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --target x86_64-unknown-linux-gnu --features hickory-dns \
    && cp target/x86_64-unknown-linux-gnu/release/docusign-collector /docusign-collector \
    && mkdir -p /rootfs/var/lib/docusign-collector /rootfs/etc/docusign-collector /rootfs/tmp \
    && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /docusign-collector /docusign-collector
COPY --from=build --chown=65532:65532 /rootfs/var/lib/docusign-collector /var/lib/docusign-collector
COPY --from=build /rootfs/tmp /tmp
COPY config/example.toml /etc/docusign-collector/config.example.toml
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
