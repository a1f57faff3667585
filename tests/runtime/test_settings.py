"""Typed settings: a bad or missing variable stops start-up naming the variable."""

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
