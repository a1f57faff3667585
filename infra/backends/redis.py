"""Redis: counters, caches and rate limits. Our own `redis-server` on loopback, AOF on,
with the install's password (from a 0600 config file: never on a command line, where `ps`
would show it).

The password is the ACL password of Redis's default user, which is also what `requirepass`
sets; but that user here may not run administrative commands (`-@admin`: CONFIG, which
would let a caller write files where Redis runs, SHUTDOWN, DEBUG, MONITOR, ACL,
REPLICAOF, ...) nor wipe or walk the keyspace at once (FLUSHALL, FLUSHDB, KEYS). The
services need none of them; an operator stops the server with a signal (`down`).

The binary comes from Debian's `redis-server` package. The package may start a system
Redis on 6379 when installed; that one is not ours and is never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.backends.base import Backend
from infra.install import apt_install

#: What the services' login may do (an ACL rule; Redis 6.2+): every key and channel, every
#: command but the administrative ones and those that wipe or walk the whole keyspace.
SERVICE_RIGHTS = "~* &* +@all -@admin -flushall -flushdb -keys"


class RedisBackend(Backend):
    """`redis-server` with data (appendonly file) under run_dir/data/redis."""

    name = "redis"

    @property
    def external(self) -> bool:
        return self.settings.redis_external

    @property
    def data_path(self) -> Path:
        return self.settings.data_dir / "redis"

    @property
    def config_path(self) -> Path:
        return self.settings.run_dir / "redis" / "auth.conf"

    def url(self) -> str:
        """The URL a client uses, password included (not for people: `endpoint`)."""
        return self.settings.redis_url()

    def ports(self) -> dict[str, int]:
        return {"PHOTOMESH_REDIS_PORT": self.settings.redis_port}

    def binary(self) -> str | None:
        return shutil.which("redis-server")

    def installed(self) -> bool:
        return self.binary() is not None

    def install(self) -> None:
        if not self.installed():
            apt_install("redis-server")

    def render_config(self) -> Path:
        """The default user's password and rights (or no password) in a file only we can
        read."""
        path = self.config_path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        password = self.settings.redis_password
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"user default on >{password} {SERVICE_RIGHTS}\n" if password
                    else "# no password\n")
        return path

    def argv(self) -> list[str]:
        s = self.settings
        return [
            self.binary() or "redis-server",
            str(self.config_path),
            "--port", str(s.redis_port),
            "--bind", s.host,
            "--protected-mode", "yes",  # with a password set, that is all it asks
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
        self.render_config()
        self.process.start(self.argv(), marker=f"{self.settings.host}:{self.settings.redis_port}")

    def healthy(self) -> bool:
        return self._answers(self.settings.redis_password)

    def _may(self, password: str | None, call: Callable[[Any], object]) -> bool:
        """Whether a client logging in with `password` may make `call` (on a redis-py
        client) without an error."""
        import redis  # lazy: keeps the CLI quick to start

        client = redis.Redis(host=self.settings.host, port=self.settings.redis_port,
                             password=password, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(call(client))
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _answers(self, password: str | None) -> bool:
        """Whether the server answers a PING from a client logging in with `password`."""
        return self._may(password, lambda client: client.ping())

    def credentials_outdated(self) -> bool:
        """The running server answers a client without the password the settings hold
        (started before this install had one), or lets the password's holder run an
        administrative command (started before the rights above): `up` restarts it."""
        password = self.settings.redis_password
        return bool(password) and (
            self._answers(None)
            or self._may(password, lambda client: client.config_get("maxmemory") is not None))

    def endpoint(self) -> str:
        return f"redis://{self.settings.host}:{self.settings.redis_port}/0"
