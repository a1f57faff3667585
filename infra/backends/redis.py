"""Redis: counters, caches and rate limits. Our own `redis-server` on loopback, AOF on.

The binary comes from Debian's `redis-server` package. The package may start a system
Redis on 6379 when installed; that one is not ours and is never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from infra.backends.base import Backend
from infra.install import apt_install


class RedisBackend(Backend):
    """`redis-server` with data (appendonly file) under run_dir/data/redis."""

    name = "redis"

    @property
    def external(self) -> bool:
        return self.settings.redis_external

    @property
    def data_path(self) -> Path:
        return self.settings.data_dir / "redis"

    def ports(self) -> dict[str, int]:
        return {"PHOTOMESH_REDIS_PORT": self.settings.redis_port}

    def binary(self) -> str | None:
        return shutil.which("redis-server")

    def installed(self) -> bool:
        return self.binary() is not None

    def install(self) -> None:
        if not self.installed():
            apt_install("redis-server")

    def argv(self) -> list[str]:
        s = self.settings
        return [
            self.binary() or "redis-server",
            "--port", str(s.redis_port),
            "--bind", s.host,
            "--protected-mode", "no",   # loopback only, no password
            "--dir", str(self.data_path),
            "--appendonly", "yes",      # counters must survive a restart
            "--appendfsync", "everysec",
            "--save", "",               # AOF only, no RDB snapshots
            "--daemonize", "no",
            "--logfile", "",            # stdout, into our log file
            "--pidfile", "",
            # Redis rewrites its command line to this title; the pid-file marker below
            # must still be found in it.
            "--proc-title-template", "{title} {listen-addr} photomesh",
        ]

    def start(self) -> None:
        self.data_path.mkdir(parents=True, exist_ok=True)
        self.process.start(self.argv(), marker=f"{self.settings.host}:{self.settings.redis_port}")

    def healthy(self) -> bool:
        import redis  # lazy: keeps the CLI quick to start

        client = redis.Redis(host=self.settings.host, port=self.settings.redis_port,
                             socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def endpoint(self) -> str:
        return f"redis://{self.settings.host}:{self.settings.redis_port}/0"
