# A small non-root image that runs `watcher run`.
#   docker build -t watcher .
#   docker run -v $PWD/config:/config:ro -v watcher-data:/data -e SMTP_HOST=... watcher
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY watcher ./watcher
RUN python -m venv /opt/watcher && /opt/watcher/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home --home-dir /data watcher \
    && mkdir -p /data /config && chown watcher /data
COPY --from=build /opt/watcher /opt/watcher
COPY config/watcher.yaml /config/watcher.yaml
ENV PATH=/opt/watcher/bin:$PATH \
    WATCHER_CONFIG=/config/watcher.yaml \
    WATCHER_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
WORKDIR /data
USER watcher
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 CMD ["watcher", "health"]
ENTRYPOINT ["watcher"]
CMD ["run"]
