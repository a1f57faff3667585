"""Fixtures of the browser tests: Debian's chromium (apt, once), playwright-core (npm,
cached), an edge of their own with the default per-user limits (a person clicking through
the app makes more calls a minute than tests/edge's low limits allow), the app served from
a second origin, and where the screenshots go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.backends.envoy import EnvoyBackend, private_edge
from infra.edge import EdgeSettings
from infra.install import ensure_chromium, ensure_npm_packages
from infra.sandbox import Mesh, RunNames, free_port
from infra.settings import InfraSettings
from infra.web import build_web_app

DRIVER = Path(__file__).resolve().parent / "driver"
#: Where screenshots are kept (see `screenshots`).
ARTIFACTS_VARIABLE = "PHOTOMESH_TEST_ARTIFACTS"
KEEP_RUNS = 5
_screenshots: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in _screenshots:
        terminalreporter.write_line(f"browser screenshots: {path}")


@pytest.fixture(scope="session")
def web_edge(mesh: Mesh, backends: InfraSettings, test_run_dir: Path, edge: EnvoyBackend
             ) -> Iterator[EnvoyBackend]:
    """An edge for the browsers, with its own run dir (config, pid) and the mesh's keys.
    Photos load from the test mesh's media URLs, which point at the `edge` fixture."""
    run_dir = test_run_dir / "web-edge"
    shutil.copytree(test_run_dir / "keys", run_dir / "keys")
    settings = backends.model_copy(update={"run_dir": run_dir})
    with private_edge(settings, mesh.env, EdgeSettings()) as envoy:
        yield envoy


@pytest.fixture(scope="session")
def other_origin(web_edge: EnvoyBackend, infra_settings: InfraSettings,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same build served from http://localhost:<port>/ (another origin than the edge's
    127.0.0.1), told to call the edge: every call the app makes is cross-origin."""
    root = tmp_path_factory.mktemp("other-origin")
    shutil.copytree(build_web_app(infra_settings), root, dirs_exist_ok=True)
    index = root / "index.html"
    index.write_text(index.read_text().replace(
        '<meta name="photomesh-edge" content="">',
        f'<meta name="photomesh-edge" content="{web_edge.endpoint()}">'))
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def driver(infra_settings: InfraSettings) -> Path:
    """playwright-core (npm ci, cached) with browser.mjs beside it."""
    if shutil.which("node") is None:
        pytest.fail("node is needed for the browser tests (Node.js >= 18)")
    packages = ensure_npm_packages(infra_settings, DRIVER)
    shutil.copyfile(DRIVER / "browser.mjs", packages / "browser.mjs")
    return packages


@pytest.fixture(scope="session")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture(scope="session")
def screenshots(infra_settings: InfraSettings, names: RunNames) -> Path:
    """PHOTOMESH_TEST_ARTIFACTS/browser-<run>, else run_dir/test-artifacts/browser-<run>
    (the newest KEEP_RUNS kept): outside pytest's tmp, which concurrent runs rotate away."""
    configured = os.environ.get(ARTIFACTS_VARIABLE)
    parent = Path(configured) if configured else infra_settings.run_dir / "test-artifacts"
    root = parent / f"browser-{names.run_id}"
    root.mkdir(parents=True, exist_ok=True)
    if not configured:
        runs = sorted(parent.glob("browser-*"), key=lambda p: p.stat().st_mtime)
        for old in runs[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
    _screenshots.append(root)
    return root


@pytest.fixture(scope="session")
def run_browser(driver: Path, chromium: Path, screenshots: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """`run_browser(scenario, **config)`: the scenario of browser.mjs in headless chromium
    (a fresh profile each, under pytest's tmp); returns its results, or fails the test with
    the step, the error and where the screenshots are."""
    profiles = tmp_path_factory.mktemp("chromium-profiles")

    def run(scenario: str, **config: Any) -> dict[str, Any]:
        shots = screenshots / scenario
        shots.mkdir(parents=True, exist_ok=True)
        config_path = shots / "config.json"
        config_path.write_text(json.dumps({
            **config, "scenario": scenario, "chromium": str(chromium), "shots": str(shots)}))
        done = subprocess.run(["node", "browser.mjs", str(config_path)], cwd=driver,
                              capture_output=True, text=True, timeout=240,
                              env={**os.environ, "TMPDIR": str(profiles)})
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        last = lines[-1] if lines else {"ok": False, "error": done.stderr[-3000:]}
        assert last["ok"], (f"browser scenario {scenario} failed at step {last.get('step')}:\n"
                            f"{last.get('error')}\nscreenshots: {shots}\n{done.stderr[-2000:]}")
        assert not last["pageErrors"], last["pageErrors"]
        (shots / "steps.json").write_text(json.dumps(lines[:-1], indent=1))
        results: dict[str, Any] = last["results"]
        return results

    return run
