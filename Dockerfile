# Build: docker build -t docusign-collector .
# Run:   docker run -v /etc/docusign-collector:/etc/docusign-collector:ro \
#                   -v docusign-collector-state:/var/lib/docusign-collector docusign-collector
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/docusign-collector --shell /usr/sbin/nologin docusign-collector \
    && mkdir -p /var/lib/docusign-collector /etc/docusign-collector \
    && chown docusign-collector /var/lib/docusign-collector
COPY --from=build /src/target/release/docusign-collector /usr/local/bin/docusign-collector
COPY config/example.toml /etc/docusign-collector/config.example.toml
USER docusign-collector
VOLUME ["/var/lib/docusign-collector"]
# The local API, when [api] listens on 0.0.0.0:9464 in the configuration.
EXPOSE 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/docusign-collector"]
CMD ["run"]
