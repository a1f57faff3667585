"""The reference web app (clients/web): built with esbuild, served by the edge at `/`.

`build_web_app` bundles clients/web/src (TypeScript, with the code `./photomesh gen` writes
into src/gen) into ``<cache>/web-app/<digest>/``: ``index.html`` and ``assets/`` with
content-hashed names (``app-<hash>.js``, ``app-<hash>.css``). The digest covers every
source file and the npm lock, so a build is made once per change and shared by `up`, the
test edge and every run dir; the edge config (infra/edge.py) serves the files of the build
it is given. npm packages come from `ensure_npm_packages` (cached, outside the repo).
`type_check` runs the TypeScript compiler over the same sources (`./photomesh test`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra.install import ensure_npm_packages
from infra.process import ProcessError
from infra.progress import say
from infra.settings import InfraSettings

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "clients" / "web"
#: What a build reads besides node_modules.
INPUTS = ("index.html", "tsconfig.json", "package.json", "package-lock.json", "src")
ENTRIES = ("src/app.ts", "src/app.css")
ASSETS = "assets"
KEEP_BUILDS = 5
#: Placeholders in index.html, replaced with the hashed file names.
PLACEHOLDERS = {"app.js": "{{app.js}}", "app.css": "{{app.css}}"}


def source_digest(source: Path = SOURCE) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = source / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(source).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _workspace(settings: InfraSettings, source: Path, into: Path) -> Path:
    """A copy of the sources beside a link to the cached node_modules (esbuild and tsc
    resolve packages from the importing file's real location, so they must sit together)."""
    packages = ensure_npm_packages(settings, source)
    into.mkdir(parents=True, exist_ok=True)
    for name in INPUTS:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, into / name)
        else:
            shutil.copyfile(path, into / name)
    (into / "node_modules").symlink_to(packages / "node_modules", target_is_directory=True)
    return into


def _node_tool(workspace: Path, name: str) -> str:
    return str(workspace / "node_modules" / ".bin" / name)


def _run(argv: list[str], cwd: Path, what: str) -> str:
    if shutil.which("node") is None:
        raise ProcessError("node is needed to build the web app: install Node.js >= 18 with "
                           "npm (Debian: apt-get install nodejs npm)")
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ProcessError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def build_web_app(settings: InfraSettings, source: Path = SOURCE) -> Path:
    """The built app for the current sources (built now if this digest was never built)."""
    root = settings.cache_dir / "web-app"
    target = root / source_digest(source)
    if (target / "index.html").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
        work = _workspace(settings, source, Path(tmp) / "work")
        out = Path(tmp) / "out"
        _run([_node_tool(work, "esbuild"), *ENTRIES, "--bundle", "--format=esm",
              "--target=es2022", "--minify", "--sourcemap", "--legal-comments=none",
              f"--outdir={out / ASSETS}", "--entry-names=[name]-[hash]",
              f"--metafile={Path(tmp) / 'meta.json'}", "--log-level=warning"],
             work, "esbuild")
        meta = json.loads((Path(tmp) / "meta.json").read_text())
        html = (work / "index.html").read_text()
        for output, info in meta["outputs"].items():
            entry = info.get("entryPoint", "")
            name = Path(output).name
            for kind, placeholder in PLACEHOLDERS.items():
                if entry == f"src/{kind.replace('.js', '.ts')}":
                    html = html.replace(placeholder, name)
        if any(p in html for p in PLACEHOLDERS.values()):
            raise ProcessError(f"web app build: index.html still has placeholders:\n{html}")
        (out / "index.html").write_text(html)
        try:
            os.replace(out, target)
        except OSError:
            if not (target / "index.html").exists():  # not a concurrent build of the same
                raise
    say(f"web app built into {target}")
    _prune(root)
    return target


def _prune(root: Path, keep: int = KEEP_BUILDS) -> None:
    """Only the newest builds stay (an edge reads its files when it starts)."""
    builds = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime)
    for old in builds[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def type_check(settings: InfraSettings, source: Path = SOURCE) -> None:
    """`tsc --noEmit` over the app (strict); ProcessError with the compiler's report."""
    with tempfile.TemporaryDirectory(prefix="photomesh-tsc-") as tmp:
        work = _workspace(settings, source, Path(tmp))
        _run([_node_tool(work, "tsc"), "--noEmit", "-p", "tsconfig.json"], work,
             "TypeScript type check")


def app_files(build: Path) -> dict[str, Path]:
    """URL path -> file of a build: ``/`` (index.html) and ``/assets/<name>``."""
    files = {"/": build / "index.html"}
    for path in sorted((build / ASSETS).iterdir()):
        files[f"/{ASSETS}/{path.name}"] = path
    return files
