"""Fixtures of the benchmark tests: the load generators, installed once (cached)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.install import ensure_ghz, ensure_wrk
from infra.settings import InfraSettings


@pytest.fixture(scope="session")
def ghz_bin(infra_settings: InfraSettings) -> Path:
    return ensure_ghz(infra_settings)


@pytest.fixture(scope="session")
def wrk_bin() -> Path:
    return ensure_wrk()
