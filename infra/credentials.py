"""The backends' credentials of one install: made at random once per run dir, kept in a
file only its owner can read, and read back as settings.

``<run_dir>/keys/backend_credentials.json`` (mode 0600, in a 0700 directory, outside the
repository) holds the values of these InfraSettings fields:

    minio_access_key / minio_secret_key                MinIO's root user (the services')
    minio_upload_access_key / minio_upload_secret_key  the key that signs upload URLs: a MinIO
                                                       user allowed PutObject on uploads/ only
    redis_password                                     Redis's default user (no admin)
    nats_password                                      the NATS user `nats_user`
    cql_password                                       the CQL role `cql_username` (the default
                                                       cassandra/cassandra superuser is dropped)

`InfraSettings()` fills each of these from the file of its run dir unless the environment
sets it (PHOTOMESH_REDIS_PASSWORD, ... for backends run elsewhere). `ensure` makes the
missing ones (`./photomesh install` and `up`, and a test session that starts backends);
nothing has a default, so no install runs on a secret everyone knows. Rotating one: stop the
backends, edit or delete the value, `./photomesh up` (a deleted CQL password cannot be
recovered: the role keeps the old one).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.settings import InfraSettings

RELATIVE_PATH = Path("keys") / "backend_credentials.json"

#: Field -> how a new value is made. Hex only (the values go into URLs and config files),
#: access keys within S3's customary 20 characters, secrets of 160 bits or more.
GENERATED: dict[str, Callable[[], str]] = {
    "minio_access_key": lambda: f"pmroot{secrets.token_hex(7)}",
    "minio_secret_key": lambda: secrets.token_hex(20),
    "minio_upload_access_key": lambda: f"pmupload{secrets.token_hex(6)}",
    "minio_upload_secret_key": lambda: secrets.token_hex(20),
    "redis_password": lambda: secrets.token_hex(24),
    "nats_password": lambda: secrets.token_hex(24),
    "cql_password": lambda: secrets.token_hex(24),
}


#: Field -> the InfraSettings flag of its backend: an external backend's credentials are
#: whatever the environment says (none if it says none), never made here.
EXTERNAL_FLAG: dict[str, str] = {
    "minio_access_key": "minio_external", "minio_secret_key": "minio_external",
    "minio_upload_access_key": "minio_external", "minio_upload_secret_key": "minio_external",
    "redis_password": "redis_external", "nats_password": "nats_external",
    "cql_password": "cql_external",
}


def path(run_dir: Path) -> Path:
    return Path(run_dir) / RELATIVE_PATH


def stored(run_dir: Path) -> dict[str, str]:
    """The values kept for `run_dir` (none if it has no file yet)."""
    try:
        data = json.loads(path(run_dir).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot read the backends' credentials at {path(run_dir)}: {exc}"
                           ) from exc
    return {k: str(v) for k, v in data.items() if k in GENERATED and v}


def from_environment(field: str) -> bool:
    """True when PHOTOMESH_<FIELD> is set: that value wins and is never generated."""
    return f"PHOTOMESH_{field.upper()}" in os.environ


def _write(run_dir: Path, values: Mapping[str, str]) -> None:
    target = path(run_dir)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target.parent, 0o700)
    tmp = target.with_name(f".{target.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dict(sorted(values.items())), f, indent=1)
        f.write("\n")
    os.replace(tmp, target)


def of_run_dir(settings: InfraSettings) -> InfraSettings:
    """`settings` with the credentials kept for its own run dir (another profile's run dir
    than the one it was loaded for) where the environment sets none."""
    kept = stored(settings.run_dir)
    return settings.model_copy(update={field: kept.get(field) for field in GENERATED
                                       if not from_environment(field)})


def ensure(settings: InfraSettings) -> InfraSettings:
    """`settings` with every credential of its run dir, the missing ones made now and kept
    (values the environment sets are used as they are). Idempotent."""
    run_dir = settings.run_dir
    kept = stored(run_dir)
    missing = {field: make() for field, make in GENERATED.items()
               if field not in kept and not from_environment(field)
               and not getattr(settings, EXTERNAL_FLAG[field])}
    if missing:
        kept = {**kept, **missing}
        _write(run_dir, kept)
    update = {field: value for field, value in kept.items() if not from_environment(field)}
    return settings.model_copy(update=update)


def for_tests(settings: InfraSettings) -> InfraSettings:
    """A test session's settings: credentials are made only for a run dir none of whose
    backends run yet (CI's first run: the session starts them asking for them); running
    backends are used as they were started (`missing` tells the session what they lack)."""
    from infra import stack

    return settings if stack.any_running(settings) else ensure(settings)


def missing(settings: InfraSettings) -> list[str]:
    """Credentials the install should have and `settings` has not (external backends
    aside), and our running backends that do not ask for them."""
    from infra import stack

    absent = [field for field, flag in EXTERNAL_FLAG.items()
              if getattr(settings, field) is None and not getattr(settings, flag)]
    return absent or stack.outdated_credentials(settings)

