"""The client package (clients/python) as a wheel, and fresh virtualenvs to install it in.

    ./photomesh wheel [--out dist]    builds photomesh_client-<version>-py3-none-any.whl

Both work offline once a wheelhouse exists: cache_dir/wheels/client-<hash> holds the build
backend (clients/python/pyproject.toml `[build-system]`) and the package's dependencies at
the versions this repo's environment runs, so the wheel is built and tested with what the
mesh runs. `pip download` fills it once per set of versions (keyed by them).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from infra.progress import say, step
from infra.settings import InfraSettings

REPO = Path(__file__).resolve().parents[1]
CLIENT_PROJECT = REPO / "clients" / "python"
DISTRIBUTION = "photomesh-client"


def project() -> dict:
    """clients/python/pyproject.toml."""
    return tomllib.loads((CLIENT_PROJECT / "pyproject.toml").read_text())


def requirements() -> list[str]:
    """What building and installing the wheel needs: the build backend and dependencies."""
    data = project()
    return [*data["build-system"]["requires"], *data["project"]["dependencies"]]


def environment_pins() -> list[str]:
    """``name==version`` of every distribution in the running environment (the mesh's)."""
    pins = {dist.metadata["Name"].lower(): f"{dist.metadata['Name']}=={dist.version}"
            for dist in importlib.metadata.distributions() if dist.metadata["Name"]}
    return [pins[name] for name in sorted(pins)]


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


def _offline_env() -> dict[str, str]:
    """The environment for offline pip runs: only the wheelhouse may supply wheels."""
    return {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}")


def ensure_wheelhouse(settings: InfraSettings) -> Path:
    """The directory of wheels to build and install the client from (filled on first use;
    concurrent runs each fill their own temporary one and the first rename wins)."""
    wanted, pins = requirements(), environment_pins()
    key = hashlib.sha256("\n".join([*wanted, *pins, sys.version]).encode()).hexdigest()[:12]
    target = settings.cache_dir / "wheels" / f"client-{key}"
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with step(f"downloading the client's build backend and dependencies into {target}"), \
            tempfile.TemporaryDirectory(dir=target.parent, prefix=".filling-") as tmp:
        staging = Path(tmp) / "wheels"
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        _run(_pip("download", "--quiet", "--only-binary=:all:", "--dest", str(staging),
                  "--constraint", str(constraints), *wanted))
        (staging / ".complete").touch()
        try:
            staging.rename(target)
        except OSError:
            if not (target / ".complete").exists():
                raise
    return target


def build_wheel(out: Path, wheelhouse: Path) -> Path:
    """Build the client wheel into `out` with the pinned build backend (from the
    wheelhouse, in pip's isolated build environment); returns the wheel's path."""
    out.mkdir(parents=True, exist_ok=True)
    version = project()["project"]["version"]
    name = DISTRIBUTION.replace("-", "_")
    for old in out.glob(f"{name}-{version}-*.whl"):
        old.unlink()
    _run(_pip("wheel", "--quiet", "--no-deps", "--no-index", "--find-links", str(wheelhouse),
              "--wheel-dir", str(out), str(CLIENT_PROJECT)), env=_offline_env())
    built = sorted(out.glob(f"{name}-{version}-*.whl"))
    if len(built) != 1:
        raise RuntimeError(f"expected one {name} {version} wheel in {out}, found {built}")
    return built[0]


def fresh_venv(path: Path, wheel: Path, wheelhouse: Path) -> Path:
    """A new virtualenv at `path` holding the wheel and its dependencies, nothing else
    (pip runs from this environment against it, offline, from the wheelhouse). Returns
    its python."""
    if path.exists():
        shutil.rmtree(path)
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    python = path / "bin" / "python"
    _run(_pip("--python", str(python), "install", "--quiet", "--no-index",
              "--find-links", str(wheelhouse), str(wheel)), env=_offline_env())
    return python


def main(settings: InfraSettings, out: Path) -> int:
    """`./photomesh wheel`: build the client wheel into `out`."""
    wheel = build_wheel(out, ensure_wheelhouse(settings))
    say(f"built {wheel.relative_to(REPO) if wheel.is_relative_to(REPO) else wheel}")
    print(wheel)
    return 0

