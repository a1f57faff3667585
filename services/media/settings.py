"""Settings of the media service and its transcoding worker (prefix ``PHOTOMESH_MEDIA_``;
each process's server options are its own: ``PHOTOMESH_MEDIA_*`` and
``PHOTOMESH_MEDIA_WORKER_*``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config

#: Where MinIO publishes bucket events (its NATS target, JetStream mode). The subject is
#: fixed per MinIO server, so one stream holds the events of every bucket; each worker
#: group reads it with its own durable consumer and skips other buckets' events. The
#: infra scripts configure MinIO with the same values (infra/backends/minio.py).
MINIO_EVENTS_STREAM = "PHOTOMESH_MINIO_EVENTS"
MINIO_EVENTS_SUBJECT = "photomesh-minio.events"
MINIO_NOTIFY_TARGET_ID = "PHOTOMESH"

MiB = 1024 * 1024


class MediaSettings(ServiceSettings):
    model_config = service_config("MEDIA")

    # Uploads
    max_image_bytes: int = Field(default=20 * MiB, gt=0)
    max_video_bytes: int = Field(default=200 * MiB, gt=0)
    upload_url_ttl_seconds: int = Field(default=900, ge=1, le=7 * 86400,
                                        description="how long a pre-signed PUT URL works")
    request_id_ttl_seconds: int = Field(default=86400, ge=60,
                                        description="CreateUpload is idempotent this long")
    public_base_url: str = Field(
        default="http://127.0.0.1:18080/media", pattern=r"^https?://",
        description="variant URLs are <base>/<bucket>/<object key> (the edge's /media route)")
    upload_endpoint: str | None = Field(
        default=None, pattern=r"^https?://",
        description="scheme://host:port clients PUT uploads to; default: the MinIO endpoint")
    batch_get_max: int = Field(default=100, ge=1, le=1000)

    # Processing limits
    max_image_pixels: int = Field(default=50_000_000, gt=0)
    max_video_seconds: float = Field(default=60.0, gt=0)
    max_video_pixels: int = Field(default=4096 * 2304, gt=0)
    worker_concurrency: int = Field(default=1, ge=1, le=16,
                                    description="uploads processed at once per worker")
    worker_memory_limit_mb: int = Field(default=2048, ge=256,
                                        description="address-space cap of an image decoder")
    ffmpeg_timeout_seconds: float = Field(default=600.0, gt=0)
    ffmpeg_threads: int = Field(default=2, ge=0, description="0: ffmpeg decides")
    jpeg_quality: int = Field(default=85, ge=30, le=100)
    webp_quality: int = Field(default=80, ge=30, le=100)
    webp_method: int = Field(default=3, ge=0, le=6, description="0 fast .. 6 smallest")

    # MinIO bucket events (must match the MinIO server's NATS target)
    minio_events_stream: str = MINIO_EVENTS_STREAM
    minio_events_subject: str = MINIO_EVENTS_SUBJECT
    minio_notify_arn: str = Field(
        default=f"arn:minio:sqs::{MINIO_NOTIFY_TARGET_ID}:nats",
        description="ARN of MinIO's NATS notification target")
    minio_consumer_idle_seconds: float = Field(
        default=3600.0, gt=0, le=86400.0,
        description="a worker group's consumer of MinIO events is removed after this idle "
                    "time (test runs leave theirs behind); lossless while below the stream's "
                    "one-day retention, as a recreated consumer replays what it kept")
