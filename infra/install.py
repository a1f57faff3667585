"""Installing tools into the cache: `go install` builds and Debian packages, with progress."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from infra.process import ProcessError
from infra.progress import say, step
from infra.settings import InfraSettings

STILL_BUILDING_EVERY = 15.0  # seconds of silence before a "still building" line


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists()
                                else None)
    if go is None:
        raise ProcessError("Go is needed to build NATS and MinIO: install Go >= 1.24 "
                           "(https://go.dev/dl/) or set PHOTOMESH_*_EXTERNAL=true")
    return go


def _other_go_installs(package: str) -> list[int]:
    """Pids of `go install <package>@...` runs already under way (ours or someone else's)."""
    pids = []
    needle = f"go install {package}@".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


def _wait_for_other_build(package: str, binary: Path) -> bool:
    """Wait while another `go install` of `package` runs; True if there was one."""
    waited_at_all = False
    started = time.monotonic()
    next_report = 0.0
    while pids := _other_go_installs(package):
        waited = time.monotonic() - started
        if waited >= next_report:
            say(f"waiting for a build of {package} already running (pid {pids[0]}, "
                f"{waited:.0f}s so far) to finish into {binary.parent}")
            next_report = waited + STILL_BUILDING_EVERY
        waited_at_all = True
        time.sleep(1.0)
    return waited_at_all


def go_install(settings: InfraSettings, package: str, version: str, binary_name: str,
               gobin: Path | None = None) -> Path:
    """`go install package@version` into `gobin` (default settings.bin_dir), static (CGO off).

    Go prints module downloads to stderr; they are echoed as they come, and during the long
    silent compile a "still building" line appears every few seconds. The full output is
    kept in cache_dir/logs/<binary>-build.log. If another `go install` of the same package
    is already running (an earlier `up` in another terminal), wait for it instead of
    starting a second build.
    """
    gobin = gobin or settings.bin_dir
    binary = gobin / binary_name
    if _wait_for_other_build(package, binary) and binary.exists():
        say(f"{binary} was built by the other run")
        return binary
    gobin.mkdir(parents=True, exist_ok=True)
    log_path = settings.cache_dir / "logs" / f"{binary_name}-build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(gobin), CGO_ENABLED="0",
               GOFLAGS=os.environ.get("GOFLAGS", "-buildvcs=false"))
    argv = [_go(), "install", f"{package}@{version}"]
    with step(f"go install {package}@{version} (first run only; a few minutes)"), \
            open(log_path, "w") as log:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        last_output = time.monotonic()

        def pump() -> None:
            nonlocal last_output
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                print(f"    {line.rstrip()}", file=sys.stderr, flush=True)
                last_output = time.monotonic()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        started = time.monotonic()
        while proc.poll() is None:
            time.sleep(1.0)
            if time.monotonic() - last_output >= STILL_BUILDING_EVERY:
                say(f"still building {binary_name} ({time.monotonic() - started:.0f}s)")
                last_output = time.monotonic()
        reader.join(timeout=5)
        proc.stdout.close()  # type: ignore[union-attr]
        if proc.returncode != 0:
            raise ProcessError(f"go install {package}@{version} failed (exit {proc.returncode});"
                               f" see {log_path}")
    if not binary.exists():
        raise ProcessError(f"go install finished but {binary} is missing; see {log_path}")
    return binary


def apt_install(*packages: str) -> None:
    """`apt-get install -y` with its progress shown; never starts or touches system services.

    Debian's packages (redis-server, for instance) may try to start a system service on
    install; `policy-rc.d` is not ours to change, so that service is simply left alone.
    """
    apt = shutil.which("apt-get")
    if apt is None:
        raise ProcessError(f"apt-get not found: install {' '.join(packages)} by hand")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with step(f"apt-get install {' '.join(packages)}"):
        argv = [apt, "install", "-y", "--no-install-recommends", *packages]
        # Progress goes straight to the terminal (stderr), not into a pipe.
        done = subprocess.run(argv, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
        if done.returncode != 0:
            # A stale package index is the usual cause on a fresh machine: refresh once.
            subprocess.run([apt, "update"], env=env, stdout=sys.stderr, stderr=sys.stderr,
                           check=False)
            done = subprocess.run(argv, env=env, stdout=sys.stderr, stderr=sys.stderr,
                                  check=False)
        if done.returncode != 0:
            raise ProcessError(f"apt-get install {' '.join(packages)} failed "
                               f"(exit {done.returncode})")


# --- clients of the edge: test clients and load generators ---------------------------------

GRPCURL_PACKAGE = "github.com/fullstorydev/grpcurl/cmd/grpcurl"
GRPCURL_VERSION = "v1.9.3"
GHZ_PACKAGE = "github.com/bojand/ghz/cmd/ghz"
GHZ_VERSION = "v0.121.0"


def go_tool(settings: InfraSettings, package: str, version: str, name: str) -> Path:
    """A Go command (pinned), built once with `go install` into
    cache_dir/tools/<name>-<version>/; the path of its binary."""
    gobin = settings.cache_dir / "tools" / f"{name}-{version}"
    binary = gobin / name
    if binary.exists() and os.access(binary, os.X_OK):
        return binary
    return go_install(settings, package, version, name, gobin=gobin)


def ensure_grpcurl(settings: InfraSettings) -> Path:
    """grpcurl (pinned): the edge tests' gRPC client."""
    return go_tool(settings, GRPCURL_PACKAGE, GRPCURL_VERSION, "grpcurl")


def ensure_ghz(settings: InfraSettings) -> Path:
    """ghz (pinned): the benchmarks' gRPC load generator, a process of its own."""
    return go_tool(settings, GHZ_PACKAGE, GHZ_VERSION, "ghz")


def ensure_wrk() -> Path:
    """wrk (Debian's package): the benchmarks' HTTP load generator, scripted in Lua."""
    found = shutil.which("wrk")
    if found is None:
        apt_install("wrk")
        found = shutil.which("wrk")
    if found is None:
        raise ProcessError("apt-get installed wrk but it is not on PATH")
    return Path(found)


def ensure_npm_packages(settings: InfraSettings, source: Path) -> Path:
    """`npm ci` of `source`'s package.json + package-lock.json into a cache dir keyed by the
    lock file's hash (outside the repo, so no node_modules in the checkout). Returns that
    dir: scripts copied into it resolve the packages from its node_modules."""
    import hashlib

    lock = (source / "package-lock.json").read_bytes()
    target = settings.cache_dir / "node" / f"{source.name}-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (target / "node_modules" / ".package-lock.json").exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ProcessError("npm not found: install Node.js >= 18 with npm (Debian: apt-get "
                           "install nodejs npm)")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(source / name, target / name)
    with step(f"npm ci for {source.name} into {target} (first run only)"):
        # No install scripts: nothing we use needs one (esbuild finds its binary package).
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                              cwd=target, stdout=sys.stderr, stderr=sys.stderr, check=False)
        if done.returncode != 0:
            raise ProcessError(f"npm ci in {target} failed (exit {done.returncode})")
    return target


# --- Kubernetes manifest tools (deploy/) -----------------------------------------------------

KUSTOMIZE_PACKAGE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.2"  # v5.8.3 needs Go 1.27
KUBECONFORM_PACKAGE = "github.com/yannh/kubeconform/cmd/kubeconform"
KUBECONFORM_VERSION = "v0.8.0"


def ensure_kustomize(settings: InfraSettings) -> Path:
    """kustomize (pinned), built once into cache_dir/tools/kustomize-<version>/."""
    return _ensure_tool(settings, KUSTOMIZE_PACKAGE, KUSTOMIZE_VERSION, "kustomize")


def ensure_kubeconform(settings: InfraSettings) -> Path:
    """kubeconform (pinned), built once into cache_dir/tools/kubeconform-<version>/."""
    return _ensure_tool(settings, KUBECONFORM_PACKAGE, KUBECONFORM_VERSION, "kubeconform")


def _ensure_tool(settings: InfraSettings, package: str, version: str, name: str) -> Path:
    gobin = settings.cache_dir / "tools" / f"{name}-{version}"
    binary = gobin / name
    if binary.exists() and os.access(binary, os.X_OK):
        return binary
    return go_install(settings, package, version, name, gobin=gobin)


# --- browser tests -----------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> Path:
    """Debian's `chromium` (the browser tests drive it with playwright-core; no browser is
    downloaded by npm). Installed with apt-get the first time."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        apt_install("chromium")
    if not CHROMIUM.exists():
        raise ProcessError(f"apt-get installed chromium but {CHROMIUM} is missing")
    return CHROMIUM


# --- the trace viewer (./photomesh up --observability) ---------------------------------------

JAEGER_MODULE = "github.com/jaegertracing/jaeger"
#: Jaeger v2 (cmd/jaeger, an OpenTelemetry Collector distribution with Jaeger's storage and
#: query extensions). Its module's v1-numbered tags carry the v2 binary: v1.76.0 is v2.13.
JAEGER_VERSION = "v1.76.0"


def ensure_jaeger(settings: InfraSettings) -> Path:
    """Jaeger v2 (pinned), built once into cache_dir/tools/jaeger-<version>/.

    `go install ...@version` refuses Jaeger's module (its go.mod has a replace directive),
    so the pinned module is fetched with `go mod download` (checksum-verified against the
    Go checksum database) and built with its own go.mod and go.sum. The web UI's assets
    come from a separate JavaScript project that no package registry carries: this binary
    serves Jaeger's placeholder page at the UI URL, and the whole query API behind it.
    """
    import json

    gobin = settings.cache_dir / "tools" / f"jaeger-{JAEGER_VERSION}"
    binary = gobin / "jaeger"
    if binary.exists() and os.access(binary, os.X_OK):
        return binary
    gobin.mkdir(parents=True, exist_ok=True)
    log_path = settings.cache_dir / "logs" / "jaeger-build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-buildvcs=false")
    with step(f"building Jaeger {JAEGER_VERSION} (first run only; several minutes, log: "
              f"{log_path})"), open(log_path, "w") as log:
        fetched = subprocess.run([_go(), "mod", "download", "-json",
                                  f"{JAEGER_MODULE}@{JAEGER_VERSION}"], env=env,
                                 capture_output=True, text=True, check=False, cwd=gobin)
        log.write(fetched.stdout + fetched.stderr)
        if fetched.returncode != 0:
            raise ProcessError(f"go mod download {JAEGER_MODULE}@{JAEGER_VERSION} failed; "
                               f"see {log_path}")
        source = json.loads(fetched.stdout)["Dir"]
        partial = gobin / "jaeger.partial"
        proc = subprocess.Popen([_go(), "build", "-trimpath", "-o", str(partial),
                                 "./cmd/jaeger"], cwd=source, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        started = time.monotonic()
        while proc.poll() is None:
            time.sleep(STILL_BUILDING_EVERY)
            if proc.poll() is None:
                say(f"still building jaeger ({time.monotonic() - started:.0f}s)")
        if proc.returncode != 0:
            raise ProcessError(f"building jaeger failed (exit {proc.returncode}); see "
                               f"{log_path}")
        partial.rename(binary)
    return binary
