# syntax=docker/dockerfile:1
#
# photomesh's container images, from one recipe. Nothing here can be built on the dev
# machines (no Docker engine there): the recipe is kept correct by tests/deploy and by the
# manifests in deploy/ that run it. Always name a target:
#
#   docker build --target service      -t photomesh/service:TAG .       every service and
#                                                                       worker but one
#   docker build --target media-worker -t photomesh/media-worker:TAG .  the same plus ffmpeg
#   docker build --target minio        -t photomesh/minio:TAG .         MinIO, built from the
#                                                                       pin the local stack uses
#
# One image serves every process: the module is the container's command
# (`python -m services.post`, `python -m services.feed.workers.fanout`, ... as in
# infra/services.py). Settings and secrets come from the environment and mounted files at
# run time (deploy/), never from the image. The images run as a non-root user and work on a
# read-only root filesystem (bytecode is compiled here; /tmp is the only place written).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG GO_IMAGE=golang:1.26-bookworm
# = InfraSettings.minio_version (infra/settings.py); tests/deploy checks they agree.
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

# --- the runtime dependencies: pyproject.toml's pinned `dependencies`, wheels only ---------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt

# --- the code: the services, the generated clients and the client layer the services
#     build their peers on (photomesh_client), compiled to bytecode --------------
FROM ${PYTHON_IMAGE} AS code
WORKDIR /app
COPY services/ services/
COPY clients/python/photomesh/ clients/python/photomesh/
COPY clients/python/photomesh_client/ clients/python/photomesh_client/
RUN python -m compileall -q -j 0 services clients/python

# --- service: auth, graph, post, feed, story, media, notification, feed_fanout,
# --- notification_worker, and the migrations Job --------------------------------------------
FROM ${PYTHON_IMAGE} AS service
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/clients/python \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRPC_ENABLE_FORK_SUPPORT=false
RUN groupadd --system --gid 10001 photomesh \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin photomesh
COPY --from=deps /opt/venv /opt/venv
COPY --from=code /app /app
WORKDIR /app
USER 10001:10001
CMD ["python", "-m", "services.runtime.migrations"]

# --- media-worker: the service image plus ffmpeg (video transcoding) -----------------------
FROM service AS media-worker
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
CMD ["python", "-m", "services.media.workers.transcoder"]

# --- minio: the object store, built from the same pinned module as `./photomesh up` --------
# (MinIO publishes no release tags on the Go proxy; the local stack pins a pseudo-version.)
FROM ${GO_IMAGE} AS minio-build
ARG MINIO_VERSION
RUN CGO_ENABLED=0 GOBIN=/out go install -trimpath github.com/minio/minio@${MINIO_VERSION}

FROM gcr.io/distroless/static-debian12:nonroot AS minio
COPY --from=minio-build /out/minio /usr/bin/minio
USER 65532:65532
ENTRYPOINT ["/usr/bin/minio"]
