"""No secret has a default: every settings class leaves its secrets unset (or required), and
an install makes its own, at random, into a file only its owner reads (infra/credentials.py).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import stat
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

import services
from infra import credentials
from infra.k8s.env_contract import SECRET_WORDS
from infra.settings import InfraSettings
from services.runtime.settings import MinioSettings

#: Names of settings whose values open something (besides env_contract's secret words).
SECRET_NAMES = (*SECRET_WORDS, "password", "token_key", "signing_key")


def _settings_classes() -> list[type[BaseSettings]]:
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if module.name.endswith("__main__") or ".workers." in module.name:
            continue  # entry points: their settings classes live in settings modules
        importlib.import_module(module.name)
    found: list[type[BaseSettings]] = [InfraSettings]
    todo = list(BaseSettings.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith(("services.", "infra.")):
            found.append(cls)
    return found


def test_no_settings_class_has_a_default_secret() -> None:
    checked = []
    for cls in _settings_classes():
        for name, field in cls.model_fields.items():
            if not any(word in name for word in SECRET_NAMES) or name.endswith("_path"):
                continue
            checked.append(f"{cls.__name__}.{name}")
            assert field.is_required() or field.get_default() is None, \
                f"{cls.__name__}.{name} defaults to a value everyone knows"
    # The ones that matter are among those checked.
    assert {"MinioSettings.secret_key", "MinioSettings.upload_secret_key",
            "InfraSettings.minio_secret_key", "InfraSettings.redis_password",
            "InfraSettings.nats_password", "InfraSettings.cql_password",
            "CqlSettings.password"} <= set(checked)


def test_the_services_refuse_to_start_without_minio_keys(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ACCESS_KEY", "SECRET_KEY", "UPLOAD_ACCESS_KEY", "UPLOAD_SECRET_KEY"):
        monkeypatch.delenv(f"PHOTOMESH_MINIO_{key}", raising=False)
    with pytest.raises(ValueError) as err:
        MinioSettings()
    assert "access_key" in str(err.value) and "upload_secret_key" in str(err.value)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for field in credentials.GENERATED:
        monkeypatch.delenv(f"PHOTOMESH_{field.upper()}", raising=False)
    return monkeypatch


def test_an_install_makes_its_own_credentials_and_keeps_them_private(
        tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    first = credentials.ensure(InfraSettings(run_dir=tmp_path / "one"))
    other = credentials.ensure(InfraSettings(run_dir=tmp_path / "two"))
    kept = credentials.path(tmp_path / "one")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    values = {field: getattr(first, field) for field in credentials.GENERATED}
    assert all(values.values()) and json.loads(kept.read_text()) == values
    # Random per install, and every one different from the others.
    assert all(getattr(other, f) != v for f, v in values.items())
    assert len(set(values.values())) == len(values)
    # Read back as settings by every later InfraSettings() of that run dir; made once.
    assert credentials.ensure(InfraSettings(run_dir=tmp_path / "one")) == first
    assert InfraSettings(run_dir=tmp_path / "one").redis_password == first.redis_password
    assert len(first.minio_access_key or "") <= 20 and len(first.minio_secret_key or "") >= 40


def test_the_environment_wins_and_external_backends_get_none_made(
        tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PHOTOMESH_REDIS_PASSWORD", "from-the-operator")
    clean_env.setenv("PHOTOMESH_NATS_EXTERNAL", "true")
    made = credentials.ensure(InfraSettings(run_dir=tmp_path))
    assert made.redis_password == "from-the-operator"
    assert made.nats_password is None  # a NATS elsewhere: its credentials are its own
    assert "redis_password" not in json.loads(credentials.path(tmp_path).read_text())


def test_credentials_travel_in_the_services_urls(tmp_path: Path,
                                                 clean_env: pytest.MonkeyPatch) -> None:
    made = credentials.ensure(InfraSettings(run_dir=tmp_path))
    assert made.redis_url() == f"redis://:{made.redis_password}@127.0.0.1:{made.redis_port}/0"
    assert made.nats_url() == \
        f"nats://photomesh:{made.nats_password}@127.0.0.1:{made.nats_port}"
    assert InfraSettings(run_dir=tmp_path / "none").redis_url().startswith("redis://127.")


def test_backends_never_listen_where_clients_reach_them() -> None:
    for host in ("0.0.0.0", "8.8.8.8", "example.com"):
        with pytest.raises(ValueError):
            InfraSettings(host=host)
    assert InfraSettings(host="10.1.2.3").host == "10.1.2.3"
