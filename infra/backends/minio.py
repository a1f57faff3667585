"""MinIO: S3-compatible object store for photos and videos, built with `go install`.

MinIO publishes no release tags on the Go proxy, so `latest` resolves to a pseudo-version
of the master branch; the installed build's module version is shown by `installed_version`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from infra.backends.base import Backend, http_status
from infra.edge import EdgeSettings
from infra.install import go_install
from infra.process import ProcessError
from infra.settings import InfraSettings

#: MinIO's NATS target: the values the media service expects by default
#: (services/media/settings.py: MINIO_NOTIFY_TARGET_ID, MINIO_EVENTS_SUBJECT/STREAM).
NOTIFY_TARGET_ID = "PHOTOMESH"
NOTIFY_SUBJECT = "photomesh-minio.events"
NOTIFY_STREAM = "PHOTOMESH_MINIO_EVENTS"


class MinioBackend(Backend):
    """`minio server` with one drive under run_dir/data/minio, or (`drives` > 1) erasure-coded
    over that many drives under it (the cluster profile, infra/cluster.py).

    Server-side configuration is given as environment: `notification_env` is the NATS
    bucket-notification target the media service needs; `extra_env` adds or overrides
    variables.
    """

    name = "minio"
    package = "github.com/minio/minio"

    def __init__(self, settings: InfraSettings,
                 extra_env: Mapping[str, str] | None = None, drives: int = 1) -> None:
        """`drives` > 1: objects are erasure-coded across that many drives (directories
        ``drive1`` .. under `data_path`), MinIO's default parity (EC:2 for 4 drives: any
        one drive may be lost for writes, two for reads)."""
        super().__init__(settings)
        self.extra_env = dict(extra_env or {})
        if drives < 1:
            raise ValueError(f"MinIO needs at least one drive, not {drives}")
        self.drives = drives

    @property
    def external(self) -> bool:
        return self.settings.minio_external

    @property
    def binary(self) -> Path:
        return self.settings.bin_dir / "minio"

    @property
    def data_path(self) -> Path:
        return self.settings.data_dir / "minio"

    @property
    def drive_paths(self) -> list[Path]:
        if self.drives == 1:
            return [self.data_path]
        return [self.data_path / f"drive{i}" for i in range(1, self.drives + 1)]

    def ports(self) -> dict[str, int]:
        return {"PHOTOMESH_MINIO_PORT": self.settings.minio_port,
                "PHOTOMESH_MINIO_CONSOLE_PORT": self.settings.minio_console_port}

    def installed(self) -> bool:
        return self.binary.exists() and os.access(self.binary, os.X_OK)

    def installed_version(self) -> str | None:
        """The module version baked into the binary (`go version -m`), if Go is around."""
        try:
            done = subprocess.run(["go", "version", "-m", str(self.binary)], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        for line in done.stdout.splitlines():
            parts = line.split()
            if parts[:2] == ["mod", self.package]:
                return parts[2]
        return None

    def install(self) -> None:
        if not self.installed():
            go_install(self.settings, self.package, self.settings.minio_version, "minio")

    @property
    def notify_queue_dir(self) -> Path:
        return self.settings.data_dir / "minio-notify-queue"

    def notification_env(self) -> dict[str, str]:
        """MinIO's NATS notification target (JetStream mode), id ``PHOTOMESH``: events of
        buckets that ask for them (the media service configures its bucket at start-up)
        are published to the fixed subject NOTIFY_SUBJECT, which the stream NOTIFY_STREAM
        (declared by the media service) stores. Events wait in a queue directory while
        NATS or the stream is not there yet, so none is lost."""
        s, target = self.settings, NOTIFY_TARGET_ID
        return {
            f"MINIO_NOTIFY_NATS_ENABLE_{target}": "on",
            f"MINIO_NOTIFY_NATS_ADDRESS_{target}": f"{s.host}:{s.nats_port}",
            f"MINIO_NOTIFY_NATS_SUBJECT_{target}": NOTIFY_SUBJECT,
            **({f"MINIO_NOTIFY_NATS_USERNAME_{target}": s.nats_user,
                f"MINIO_NOTIFY_NATS_PASSWORD_{target}": s.nats_password}
               if s.nats_password else {}),
            f"MINIO_NOTIFY_NATS_JETSTREAM_{target}": "on",
            f"MINIO_NOTIFY_NATS_QUEUE_DIR_{target}": str(self.notify_queue_dir),
            f"MINIO_NOTIFY_NATS_QUEUE_LIMIT_{target}": "100000",
        }

    def server_env(self) -> dict[str, str]:
        s = self.settings
        if not (s.minio_access_key and s.minio_secret_key):
            # MinIO would fall back to its well-known minioadmin/minioadmin.
            raise ProcessError("minio: no root credentials in the settings; `./photomesh up` "
                               "makes them (infra/credentials.py)")
        return {
            **os.environ,
            "MINIO_ROOT_USER": s.minio_access_key,
            "MINIO_ROOT_PASSWORD": s.minio_secret_key,
            "MINIO_UPDATE": "off",
            "MINIO_CALLHOME_ENABLE": "off",
            # Browsers PUT uploads straight here (pre-signed URLs): the origins allowed to
            # call the edge may upload (web app, clients/web/src/components/upload.ts).
            "MINIO_API_CORS_ALLOW_ORIGIN": ",".join(EdgeSettings().cors_allowed_origins),
            **self.notification_env(),
            # Several drives on one filesystem (this machine's root one): MinIO refuses
            # drives on the root disk unless told what size a root disk is at most.
            **({"MINIO_ROOTDRIVE_THRESHOLD_SIZE": "1B"} if self.drives > 1 else {}),
            **self.extra_env,
        }

    def argv(self) -> list[str]:
        s = self.settings
        return [
            str(self.binary), "server", *map(str, self.drive_paths),
            "--address", f"{s.host}:{s.minio_port}",
            "--console-address", f"{s.host}:{s.minio_console_port}",
            "--quiet",
        ]

    def start(self) -> None:
        for drive in self.drive_paths:
            drive.mkdir(parents=True, exist_ok=True)
        self.notify_queue_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(self.argv(), env=self.server_env(), marker=str(self.data_path))

    def healthy(self) -> bool:
        base = f"http://{self.settings.host}:{self.settings.minio_port}/minio/health"
        return http_status(f"{base}/live") == 200 and http_status(f"{base}/ready") == 200

    def credentials_outdated(self) -> bool:
        """The running server refuses the install's root user (it was started with other
        credentials, e.g. before the install had its own)."""
        from minio import Minio
        from minio.error import S3Error

        s = self.settings
        if not (s.minio_access_key and s.minio_secret_key) or not self.healthy():
            return False
        client = Minio(f"{s.host}:{s.minio_port}", access_key=s.minio_access_key,
                       secret_key=s.minio_secret_key, secure=False)
        try:
            client.list_buckets()
        except S3Error as exc:
            return exc.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")
        return False

    def endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.minio_port}"
