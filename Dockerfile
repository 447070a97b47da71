# A small non-root image that runs `watcher run`, with the exact dependency versions pinned
# (with their hashes) in requirements.lock; scripts/lock regenerates that file.
#   docker build -t watcher .
#   docker run -v $PWD/config:/config:ro -v watcher-data:/data -e SMTP_HOST=... watcher
FROM python:3.11-slim AS build
WORKDIR /src
# The locked dependencies get a layer of their own, so a code change does not reinstall them.
# --require-hashes refuses any file whose hash the lock does not list and any dependency it
# does not pin, so a build either installs exactly the lock or fails.
COPY requirements.lock ./
RUN python -m venv /opt/watcher \
    && /opt/watcher/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY watcher ./watcher
# The package itself adds nothing: pip check fails the build if the lock does not satisfy it.
RUN /opt/watcher/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
    && /opt/watcher/bin/pip check

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
