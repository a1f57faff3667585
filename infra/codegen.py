"""Code generation and contract checks for the .proto files under `protos/`.

    gen [--check]            Python modules + .pyi stubs into clients/python/photomesh, the
                             Envoy descriptor set into clients/descriptors/photomesh.binpb,
                             the REST routes' OpenAPI document (infra/openapi.py) into
                             clients/openapi/photomesh.openapi.json, the Kubernetes
                             edge's files (infra/k8s/edge.py) into deploy/base/edge/generated
                             and the web app's TypeScript (protoc-gen-es, npm, cached) into
                             clients/web/src/gen;
                             --check regenerates into a temp dir and fails on any difference.
    lint                     buf lint.
    breaking [--against X]   buf breaking against git main (or HEAD~1 on main itself).

The two googleapis files the contracts import are vendored under
protos/third_party/googleapis (buf needs them and the BSR is not reachable); `gen` refreshes
them from the pinned googleapis-common-protos wheel and `gen --check` fails if they drift.
No Python is generated for them: at run time it comes from that wheel. The web app's
TypeScript includes them and google.rpc's status and error details (read from the same
wheel), so the browser decodes ErrorInfo, BadRequest and RetryInfo.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2

from infra.progress import say

REPO = Path(__file__).resolve().parents[1]
PROTOS = REPO / "protos"
OWN_PROTOS = PROTOS / "photomesh"
THIRD_PARTY = PROTOS / "third_party" / "googleapis"
VENDORED = ("google/api/annotations.proto", "google/api/http.proto")
CLIENTS = REPO / "clients"
PYTHON_OUT = CLIENTS / "python"
PACKAGE = "photomesh"
DESCRIPTOR_DIR = "descriptors"
DESCRIPTOR_NAME = "photomesh.binpb"
OPENAPI_DIR = "openapi"
OPENAPI_NAME = "photomesh.openapi.json"
K8S_EDGE_DIR = "k8s-edge"  # in a fresh generation; installed into deploy/base/edge/generated
WEB_APP = CLIENTS / "web"
WEB_GEN_DIR = "web-gen"  # in a fresh generation; installed into clients/web/src/gen
#: Third-party files the TypeScript needs besides ours (from googleapis-common-protos).
TS_THIRD_PARTY = ("google/api/annotations.proto", "google/api/http.proto",
                  "google/rpc/status.proto", "google/rpc/error_details.proto")


# --- tools ---------------------------------------------------------------------------------

def _bin_dir() -> Path:
    """The virtualenv's bin dir (not resolved: a venv's python is a symlink)."""
    return Path(sys.executable).parent


def _tool(name: str) -> str:
    """An executable next to the running Python, else on PATH."""
    beside = _bin_dir() / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"codegen: {name} not found next to {sys.executable} or on PATH")
    return found


def _run(cmd: Sequence[str], *, cwd: Path = REPO, check: bool = True) -> int:
    say(f"+ {shlex.join(cmd)}")
    code = subprocess.run(list(cmd), cwd=cwd).returncode
    if check and code != 0:
        raise SystemExit(f"codegen: command failed with exit code {code}")
    return code


def _git(*args: str) -> str | None:
    """Output of a git command in the repo, or None when it fails."""
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


# --- vendored third-party protos -----------------------------------------------------------

def _googleapis_root() -> Path:
    """Directory of the installed googleapis-common-protos that holds google/api/*.proto."""
    spec = importlib.util.find_spec("google.api.annotations_pb2")
    if spec is None or spec.origin is None:
        raise SystemExit("codegen: googleapis-common-protos is not installed")
    return Path(spec.origin).parents[2]


def third_party_drift(root: Path = THIRD_PARTY) -> list[str]:
    """Vendored files that differ from (or are missing next to) the installed wheel's."""
    source = _googleapis_root()
    return [str((root / name).relative_to(REPO)) for name in VENDORED
            if not (root / name).is_file()
            or not filecmp.cmp(source / name, root / name, shallow=False)]


def vendor_third_party(root: Path = THIRD_PARTY) -> None:
    """Copy the imported googleapis files from the installed wheel into protos/third_party."""
    source = _googleapis_root()
    for name in VENDORED:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)


# --- generation ----------------------------------------------------------------------------

def proto_files() -> list[str]:
    """Our .proto files, relative to protos/, in a stable order."""
    return sorted(p.relative_to(PROTOS).as_posix() for p in OWN_PROTOS.rglob("*.proto"))


def _protoc(args: Sequence[str]) -> None:
    includes = [f"-I{d.relative_to(REPO)}" for d in (PROTOS, THIRD_PARTY)]
    _run([sys.executable, "-m", "grpc_tools.protoc", *includes, *args, *proto_files()])


def _files_with_services(descriptor_set: Path) -> set[str]:
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    return {f.name for f in fds.file if f.service}


def _add_package_markers(python_out: Path) -> None:
    """__init__.py in every generated package dir, py.typed at the top."""
    top = python_out / PACKAGE
    for directory in sorted({top, *(p.parent for p in top.rglob("*.py"))}):
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("")
    (top / "py.typed").write_text("")


def _drop_empty_grpc_modules(python_out: Path, with_services: set[str]) -> None:
    """grpc plugins write *_pb2_grpc for every file; keep them only for files with services."""
    for name in proto_files():
        if name in with_services:
            continue
        stem = python_out / name.removesuffix(".proto")
        for suffix in ("_pb2_grpc.py", "_pb2_grpc.pyi"):
            Path(f"{stem}{suffix}").unlink(missing_ok=True)


def generate(out: Path) -> None:
    """Generate everything into `out` (a fresh dir): out/python/photomesh, out/descriptors."""
    python_out = out / "python"
    descriptors = out / DESCRIPTOR_DIR / DESCRIPTOR_NAME
    python_out.mkdir(parents=True)
    descriptors.parent.mkdir(parents=True)
    bin_dir = _bin_dir()
    _protoc([
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={python_out}", f"--grpc_python_out={python_out}",
        f"--mypy_out=quiet:{python_out}", f"--mypy_grpc_out=quiet:{python_out}",
    ])
    _protoc(["--include_imports", "--include_source_info",
             f"--descriptor_set_out={descriptors}"])
    _drop_empty_grpc_modules(python_out, _files_with_services(descriptors))
    _add_package_markers(python_out)
    _write_openapi(descriptors, out / OPENAPI_DIR / OPENAPI_NAME)
    _write_k8s_edge(descriptors, out / OPENAPI_DIR / OPENAPI_NAME, out / K8S_EDGE_DIR)
    _generate_typescript(out / WEB_GEN_DIR)


def _generate_typescript(target: Path) -> None:
    """protoc-gen-es (npm, installed once into the cache from clients/web's lock file):
    messages, enums and service descriptors as TypeScript (`target=ts`)."""
    from infra.install import ensure_npm_packages
    from infra.settings import InfraSettings

    packages = ensure_npm_packages(InfraSettings(), WEB_APP)
    plugin = packages / "node_modules" / ".bin" / "protoc-gen-es"
    target.mkdir(parents=True)
    _run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS.relative_to(REPO)}",
          f"-I{_googleapis_root()}", f"--plugin=protoc-gen-es={plugin}",
          f"--es_out={target}", "--es_opt=target=ts", *proto_files(), *TS_THIRD_PARTY])


def _write_openapi(descriptors: Path, target: Path) -> None:
    from infra.contracts import Contracts
    from infra.openapi import render

    target.parent.mkdir(parents=True)
    target.write_text(render(Contracts(descriptors)))


def _write_k8s_edge(descriptors: Path, openapi: Path, target: Path) -> None:
    from infra.k8s.edge import render

    render(target, descriptor_set=descriptors, openapi=openapi)


def _destinations() -> dict[str, Path]:
    """Each generated tree (its name in a fresh generation) and where it is installed."""
    from infra.k8s.edge import GENERATED

    return {f"python/{PACKAGE}": PYTHON_OUT / PACKAGE, DESCRIPTOR_DIR: CLIENTS / DESCRIPTOR_DIR,
            OPENAPI_DIR: CLIENTS / OPENAPI_DIR, K8S_EDGE_DIR: GENERATED,
            WEB_GEN_DIR: WEB_APP / "src" / "gen"}


def _tree(root: Path) -> dict[str, Path]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def _outputs(fresh: Path | None = None) -> dict[str, Path]:
    """Generated files, keyed by repo-relative path: those of a fresh generation in `fresh`,
    or (None) those installed in the repo."""
    files: dict[str, Path] = {}
    for sub, installed in _destinations().items():
        where = installed.relative_to(REPO).as_posix()
        tree = _tree(fresh / sub if fresh is not None else installed)
        files.update({f"{where}/{k}": v for k, v in tree.items()})
    return files


def diff_outputs(fresh: Path) -> list[str]:
    """Repo paths that are missing, extra or different compared with `fresh`."""
    new, old = _outputs(fresh), _outputs()
    return sorted(name for name in new.keys() | old.keys()
                  if name not in new or name not in old
                  or not filecmp.cmp(new[name], old[name], shallow=False))


def install(fresh: Path) -> None:
    """Replace the generated dirs in the repo with the fresh ones."""
    for sub, target in _destinations().items():
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(fresh / sub, target)


def gen(check: bool = False) -> int:
    """Regenerate clients/ (or, with check, report what regenerating would change)."""
    if check:
        drift = third_party_drift()
        if drift:
            say("vendored protos differ from googleapis-common-protos (run gen): "
                + ", ".join(drift))
    else:
        vendor_third_party()
        drift = []
    with tempfile.TemporaryDirectory(prefix="photomesh-gen-") as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if not check:
            install(fresh)
            say(f"generated {len(_outputs(fresh))} files under "
                + ", ".join(f"{p.relative_to(REPO)}/" for p in _destinations().values()))
            return 0
        stale = diff_outputs(fresh)
    for name in stale:
        print(name)
    if stale:
        say(f"{len(stale)} generated file(s) out of date: run `./photomesh gen`")
    return 1 if stale or drift else 0


# --- buf -----------------------------------------------------------------------------------

def lint() -> int:
    """buf lint over the whole workspace (third-party module is ignored by buf.yaml)."""
    return _run([_tool("buf"), "lint"], check=False)


def _git_ref_of(against: str) -> str | None:
    """The git ref in a `.git#branch=X` / `.git#ref=X` input, else None."""
    if not against.startswith(".git#"):
        return None
    for option in against.split("#", 1)[1].split(","):
        key, _, value = option.partition("=")
        if key in ("branch", "ref", "tag"):
            return value
    return None


def _protos_changed_in_worktree() -> bool:
    return bool(_git("status", "--porcelain", "--", "protos", "buf.yaml"))


def default_against() -> str | None:
    """What to compare with: main; on main itself, HEAD when protos/ has local changes,
    else HEAD~1. None when there is no history to compare with."""
    main_tip = _git("rev-parse", "--verify", "--quiet", "refs/heads/main")
    head = _git("rev-parse", "--verify", "--quiet", "HEAD")
    if main_tip is not None and head != main_tip:
        return ".git#branch=main"
    if head is not None and _protos_changed_in_worktree():
        return ".git#ref=HEAD"
    if _git("rev-parse", "--verify", "--quiet", "HEAD~1") is not None:
        return ".git#ref=HEAD~1"
    return None


def breaking(against: str) -> int:
    """buf breaking (FILE rules, from buf.yaml) of the working tree against `against`."""
    ref = _git_ref_of(against)
    if ref is not None and not _git("ls-tree", "-r", "--name-only", ref, "--",
                                    "protos/photomesh", "buf.yaml"):
        say(f"breaking: {ref} has no contracts yet; nothing to compare with")
        return 0
    return _run([_tool("buf"), "breaking", "--against", against], check=False)


# --- command line --------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codegen", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    gen_cmd = commands.add_parser("gen", help="regenerate clients/ from protos/")
    gen_cmd.add_argument("--check", action="store_true",
                         help="fail (listing files) if clients/ is not up to date")
    commands.add_parser("lint", help="buf lint")
    breaking_cmd = commands.add_parser("breaking", help="buf breaking against git main")
    breaking_cmd.add_argument("--against", help="buf input to compare with "
                              "(default: .git#branch=main, or HEAD~1 on main)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "gen"):
        return gen(check=getattr(args, "check", False))
    if args.command == "lint":
        return lint()
    against = args.against or default_against()
    if against is None:
        say("breaking: no history to compare with; skipped")
        return 0
    return breaking(against)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
