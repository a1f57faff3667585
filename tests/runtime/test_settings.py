"""Typed settings: a bad or missing variable stops start-up naming the variable."""

import os
import subprocess
import sys

import pytest

from services.runtime.settings import CqlSettings, SettingsError, load


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOMESH_CQL_PORT", "not-a-port")
    with pytest.raises(SettingsError) as err:
        load(CqlSettings)
    assert "PHOTOMESH_CQL_PORT" in str(err.value)


def test_invalid_consistency_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOMESH_CQL_CONSISTENCY", "MOST")
    with pytest.raises(SettingsError) as err:
        load(CqlSettings)
    assert "PHOTOMESH_CQL_CONSISTENCY" in str(err.value)


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOMESH_CQL_CONTACT_POINTS", '["10.0.0.1","10.0.0.2"]')
    monkeypatch.setenv("PHOTOMESH_CQL_CONSISTENCY", "QUORUM")
    settings = load(CqlSettings)
    assert settings.contact_points == ["10.0.0.1", "10.0.0.2"]
    assert settings.consistency == "QUORUM"


def _start(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOMESH_")}
    env["PHOTOMESH_JWT_PUBLIC_KEY_PATH"] = "/nonexistent/key.pem"
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-m", "services.post"], env=env, text=True,
                          capture_output=True, timeout=60)


def test_a_service_with_a_bad_setting_refuses_to_start() -> None:
    result = _start({"PHOTOMESH_POST_PORT": "eighty"})
    assert result.returncode != 0
    assert "PHOTOMESH_POST_PORT" in result.stderr


def test_a_service_missing_a_required_setting_names_it() -> None:
    result = _start({"PHOTOMESH_JWT_PUBLIC_KEY_PATH": None})
    assert result.returncode != 0
    assert "PHOTOMESH_JWT_PUBLIC_KEY_PATH" in result.stderr
