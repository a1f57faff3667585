"""Tools from Debian packages: the `Tool` variant of a backend, and ffmpeg.

A tool is not a server: it is installed and probed like a backend, but starting and
stopping it do nothing. The media service runs `ffmpeg` itself for video transcoding.
"""

from __future__ import annotations

import shutil
import subprocess

from infra.backends.base import Backend, wait_until
from infra.install import apt_install


class Tool(Backend):
    """A command-line program from an apt package: installed and probed, never started."""

    command: str
    package: str

    def binary(self) -> str | None:
        return shutil.which(self.command)

    def installed(self) -> bool:
        return self.binary() is not None

    def install(self) -> None:
        if not self.installed():
            apt_install(self.package)

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> bool:
        return False

    def running(self) -> bool:
        """A tool is "up" when it is installed and answers."""
        return self.healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        wait_until(self.healthy, timeout, self.name)  # no process to watch

    def version_argv(self) -> list[str]:
        return ["-version"]

    def healthy(self) -> bool:
        binary = self.binary()
        if binary is None:
            return False
        try:
            done = subprocess.run([binary, *self.version_argv()], capture_output=True,
                                  timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def endpoint(self) -> str:
        return self.binary() or f"{self.command} (not installed)"


class FfmpegBackend(Tool):
    """ffmpeg, for video transcoding and thumbnails in the media service."""

    name = "ffmpeg"
    command = "ffmpeg"
    package = "ffmpeg"
