"""The client package installs from its wheel into a fresh virtualenv, and the example of
docs/client.md, run from there as the doc shows it, works against the mesh through the edge.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import client_package
from infra.backends.envoy import EnvoyBackend
from infra.settings import InfraSettings
from tests.media_support import jpeg_bytes

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "client.md"
EXAMPLE_MARKER = "<!-- example: tests/client/test_package.py runs the next block as it is -->"


def doc_blocks() -> tuple[str, str]:
    """(the example's code, the output the doc says it prints)."""
    text = DOC.read_text()
    after = text.split(EXAMPLE_MARKER, 1)[1]
    code = re.search(r"\A\s*```python\n(.*?)\n```", after, re.S)
    printed = re.search(r"It prints:\s*```text\n(.*?)\n```", after, re.S)
    assert code and printed, "docs/client.md: the example block or its output is missing"
    return code.group(1) + "\n", printed.group(1) + "\n"


@pytest.fixture(scope="module")
def wheel(infra_settings: InfraSettings, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, Path]:
    """(the built wheel, the wheelhouse it installs from)."""
    wheelhouse = client_package.ensure_wheelhouse(infra_settings)
    built = client_package.build_wheel(tmp_path_factory.mktemp("dist"), wheelhouse)
    return built, wheelhouse


@pytest.fixture(scope="module")
def client_python(wheel: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    built, wheelhouse = wheel
    return client_package.fresh_venv(tmp_path_factory.mktemp("venv") / "client", built,
                                     wheelhouse)


def isolated(python: Path, *args: str, cwd: Path, timeout: float = 120
             ) -> subprocess.CompletedProcess[str]:
    """Run the venv's python isolated from the repo: no PYTHONPATH, no user site, no
    script dir on sys.path, outside the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run([str(python), "-I", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_wheel_holds_the_generated_stubs_and_the_client_layer(
        wheel: tuple[Path, Path]) -> None:
    built, _ = wheel
    names = set(zipfile.ZipFile(built).namelist())
    generated = {p.relative_to(REPO / "clients" / "python").as_posix()
                 for p in (REPO / "clients" / "python" / "photomesh").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert generated <= names
    assert {"photomesh_client/client.py", "photomesh_client/py.typed",
            "photomesh/post/v1/post_service_pb2_grpc.pyi"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    metadata = zipfile.ZipFile(built).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: photomesh-client" in metadata
    requires = sorted(line.split(": ", 1)[1] for line in metadata.splitlines()
                      if line.startswith("Requires-Dist: "))
    assert [Requirement(r).name for r in requires] == [
        "googleapis-common-protos", "grpcio", "protobuf"]


def test_the_repo_runs_versions_inside_the_client_ranges() -> None:
    """The mesh's own environment satisfies what the wheel declares (so the tests of the
    client, run here, test versions its users may get)."""
    for line in client_package.project()["project"]["dependencies"]:
        requirement = Requirement(line)
        installed = importlib.metadata.version(requirement.name)
        assert requirement.specifier.contains(installed), (line, installed)


def test_the_fresh_venv_holds_only_the_wheel_and_its_dependencies(
        client_python: Path, tmp_path: Path) -> None:
    done = isolated(client_python, "-c", (
        "import importlib.metadata as m, photomesh_client, photomesh.post.v1.post_service_pb2;"
        "print(sorted(d.metadata['Name'].lower().replace('_', '-') for d in m.distributions()));"
        "print(photomesh_client.__file__)"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    distributions, location = done.stdout.splitlines()
    assert distributions == str(sorted(["photomesh-client", "grpcio", "protobuf",
                                        "googleapis-common-protos", "typing-extensions"]))
    assert Path(location).is_relative_to(client_python.parent.parent)


def test_the_docs_example_runs_from_the_installed_wheel(
        client_python: Path, edge: EnvoyBackend, tmp_path: Path) -> None:
    code, printed = doc_blocks()
    example = tmp_path / "example.py"
    example.write_text(code)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(640, 480))
    target = f"{edge.settings.host}:{edge.settings.envoy_port}"
    done = isolated(client_python, str(example), target, str(photo), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed
