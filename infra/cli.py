"""`./photomesh <command>`: bring the mesh up and down, see what runs, run the checks.

    up        install what is missing, start the backends, then the services
    down      stop our services, then our backends
    status    what runs: pids, endpoints, health, memory
    install   install everything, start nothing
    migrate   apply pending CQL schema migrations
    logs      the log of one backend or service (`logs feed -f`)
    gen | lint | breaking   generated code and buf checks (infra.codegen)
    wheel     build the Python client package (clients/python) into dist/
    test      every CI check, then pytest (arguments go to pytest)
    test-cluster  the failover test on the cluster profile's backends (minutes; not in `test`)
    chaos     kill -9 every backend and process of a stack of its own under load (minutes)
    bench     run a benchmark of bench/ on a private mesh (`bench feed --help`)
    k8s       Kubernetes manifests (deploy/): secrets, build, validate, render-edge, schemas
    seed      fill the running mesh with demo data (socfb-Reed98; `seed --help`)

Imports are lazy, so every command starts quickly.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from infra.progress import say

REPO = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    from infra.settings import InfraSettings


def _settings() -> InfraSettings:
    from infra.settings import InfraSettings

    return InfraSettings()


def _installed_settings() -> InfraSettings:
    """The settings with the install's credentials, made now if the run dir has none
    (infra/credentials.py)."""
    from infra import credentials

    return credentials.ensure(_settings())


def _restart_for_credentials(settings: InfraSettings, servers: list[str]) -> list[str]:
    """Backends of an install from before it had credentials (running open to anyone) are
    stopped, with every service (they hold connections without credentials), so that this
    `up` starts them again, on their data, asking for the install's. Returns their names."""
    from infra import services, stack

    outdated = stack.outdated_credentials(settings, servers)
    if outdated:
        say(f"{', '.join(outdated)} run(s) without the install's credentials: restarting "
            f"them (data kept) with the services")
        services.stop_services(settings)
        stack.stop_backends(settings, outdated)
    return outdated


def _only(args: argparse.Namespace) -> list[str] | None:
    if not getattr(args, "only", None):
        return None
    return [name.strip() for name in args.only.split(",") if name.strip()]


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _endpoints(settings: InfraSettings) -> str:
    from infra import services, stack

    rows: list[tuple[str, ...]] = [("WHAT", "STATE", "PID", "RSS", "ENDPOINT")]
    for b in stack.status(settings):
        rss = f"{b.rss_mb:.0f}M" if b.rss_mb is not None else "-"
        rows.append((b.name, b.state, str(b.pid or "-"), rss, b.endpoint))
    for svc in services.service_status(settings):
        state = ("SERVING" if svc.serving else "NOT SERVING" if svc.pid
                 else f"DEAD (was pid {svc.dead_pid})" if svc.dead_pid else "stopped")
        rss = stack.rss_mb(svc.pid) if svc.pid else None
        rows.append((f"svc {svc.name}", state, str(svc.pid or "-"),
                     f"{rss:.0f}M" if rss is not None else "-",
                     f"grpc://{svc.target}" + (f"  {svc.metrics}" if svc.metrics else "")))
    from infra.backends.envoy import EnvoyBackend

    envoy = EnvoyBackend(settings)
    rows.append(("edge", "", "", "", f"{envoy.endpoint()}  (admin {envoy.admin_endpoint()})"))
    rows.append(("web app", "", "", "", f"{envoy.endpoint()}/"))
    return _table(rows)


def _running(settings: InfraSettings, backends: list[str], with_services: bool) -> list[str]:
    """Names (backends, svc-*) of our processes that are alive, by pid file."""
    from infra import services, stack

    names = [name for name in stack.any_running(settings) if name in backends]
    if with_services:
        names += [f"svc-{name}" + ("" if replica == 1 else f"-{replica}")
                  for name in services.SERVICES
                  for replica in services.running_replicas(settings, name)]
    return names


def _refresh_edge(settings: InfraSettings) -> None:
    """A running edge of ours whose routes no longer match the layout (other replicas) is
    restarted with a new config."""
    from infra import stack

    envoy = stack.backend(settings, "envoy")
    if envoy.external or not envoy.process.is_running():
        return
    config = envoy.config_path  # type: ignore[attr-defined]
    before = config.read_text() if config.exists() else ""
    envoy.render_config()  # type: ignore[attr-defined]
    if config.read_text() != before:
        say("the edge routes to other replicas now: restarting it")
        envoy.stop()


# --- commands --------------------------------------------------------------------------------

def _cluster_up(args: argparse.Namespace) -> int:
    """`up --profile cluster`: the backends' cluster forms (infra/cluster.py), then the
    services and the edge on them, on the profile's own ports and run dir."""
    from infra import layout as layouts
    from infra import services
    from infra.backends.envoy import EnvoyBackend
    from infra.cluster import LocalCluster
    from infra.process import ProcessError
    from infra.progress import step

    started_at = time.monotonic()
    cluster = LocalCluster()
    settings = cluster.infra_settings()
    if args.replicas:
        settings = settings.model_copy(update={"replicas": args.replicas})
    layout = layouts.planned(settings)
    try:
        with step("installing"):
            cluster.install()
        with step(f"starting the cluster backends ({cluster.describe()})"):
            for name in cluster.start():
                say(f"started {name}")
        if not args.no_services:
            env = cluster.backend_env()
            layouts.save(settings, layout)
            with step("applying CQL schema migrations (RF 3)"):
                say(services.migrate(settings, env))
            with step(f"starting services ({layout.replicas} replica(s) each)"):
                services.start_services(settings, overrides=env, layout=layout)
            edge = EnvoyBackend(settings, services.service_env(settings, env, layout=layout))
            if not edge.process.is_running():
                edge.start()
            edge.wait_healthy(60)
    except (ProcessError, ValueError) as e:
        say(f"up --profile cluster failed: {e}")
        say("what did start is still running: `./photomesh down --profile cluster`")
        return 1
    print(_endpoints(settings))
    print(f"cluster profile up in {time.monotonic() - started_at:.1f}s: {cluster.describe()}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from infra import layout as layouts
    from infra import services, stack
    from infra.process import ProcessError
    from infra.progress import step

    if args.profile == "cluster":
        return _cluster_up(args)
    started_at = time.monotonic()
    settings = _installed_settings()
    if args.replicas:
        settings = settings.model_copy(update={"replicas": args.replicas})
    if args.observability:
        settings = settings.model_copy(update={"observability": True})
    only = _only(args)
    try:
        chosen = stack.select(only, settings.observability)
        layout = layouts.planned(settings)
    except ValueError as e:
        say(str(e))
        return 2
    servers = [name for name in chosen if name != "ffmpeg"]
    try:
        _restart_for_credentials(settings, servers)
    except ProcessError as e:
        say(f"up failed: {e}")
        return 1
    running = _running(settings, servers, not args.no_services)
    saved = layouts.saved(settings)
    if not args.no_services and saved is not None and saved != layout and \
            any(name.startswith("svc-") for name in running):
        print(f"photomesh runs {saved.replicas} replica(s) of each service: "
              f"`./photomesh down` first, or `up --replicas {saved.replicas}`", file=sys.stderr)
        return 2
    expected = len(servers) + (0 if args.no_services else len(layout.instances))
    if running and len(running) >= expected:
        print("photomesh is already running (see `./photomesh status`): "
              f"{', '.join(running)}", file=sys.stderr)
        return 0
    if running:
        # Never twins: what runs (by our pid files) is kept, the rest is started.
        say(f"already running, kept: {', '.join(running)}")
    try:
        stack.install_all(settings, only)
        if not args.no_services:
            layouts.save(settings, layout)  # the edge routes to these instances
            if "envoy" in chosen:
                _refresh_edge(settings)
        with step("starting backends"):
            stack.start_backends(settings, only)
        if not args.no_services:
            with step("applying CQL schema migrations"):
                say(services.migrate(settings))
            with step(f"starting services ({layout.replicas} replica(s) each)"):
                services.start_services(settings, layout=layout)
    except (ProcessError, ValueError) as e:
        say(f"up failed: {e}")
        say("what did start is still running: `./photomesh status`, `./photomesh down`")
        return 1
    print(_endpoints(settings))
    if settings.observability:
        from infra.backends.jaeger import JaegerBackend

        jaeger = JaegerBackend(settings)
        print(f"traces: Jaeger at {jaeger.ui_url()} (query API: {jaeger.ui_url()}/api/traces"
              f"?service=photomesh-post); every service and the edge export to it")
    print(f"photomesh up in {time.monotonic() - started_at:.1f}s")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from infra import services, stack

    if args.profile == "cluster":
        from infra.backends.envoy import EnvoyBackend
        from infra.cluster import LocalCluster

        cluster = LocalCluster()
        profile = cluster.infra_settings()
        stopped = [f"svc {name}" for name in services.stop_services(profile)]
        if EnvoyBackend(profile).stop():
            stopped.append("envoy")
        stopped += cluster.stop()
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")
        return 0
    settings = _settings()
    only = _only(args)
    # With --only, just those backends; otherwise the services first, then every backend.
    stopped = [] if only else [f"svc {name}" for name in services.stop_services(settings)]
    stopped += stack.stop_backends(settings, only)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from infra import services
    from infra.process import ProcessError

    try:
        print(services.migrate(_settings()))
    except ProcessError as e:
        say(str(e))
        return 1
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.profile == "cluster":
        from infra import services
        from infra.cluster import LocalCluster, say_status

        cluster = LocalCluster()
        say_status(cluster)
        for svc in services.service_status(cluster.infra_settings()):
            say(f"svc {svc.name:18} {'SERVING' if svc.serving else 'down':8} {svc.target}")
        return 0
    settings = _settings()
    print(f"run dir: {settings.run_dir}")
    print(_endpoints(settings))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from infra import stack
    from infra.process import ProcessError

    try:
        installed = stack.install_all(_installed_settings(), _only(args))
    except (ProcessError, ValueError) as e:
        say(f"install failed: {e}")
        return 1
    print(f"installed: {', '.join(installed)}" if installed else "everything is installed")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from infra import services, stack
    from infra.process import ManagedProcess

    settings = _settings()
    name = args.name
    service, _, replica = name.partition("#")
    if service in services.SERVICES:
        name = services.service_process(settings, service, int(replica or 1)).name
    elif name not in stack.NAMES and not name.startswith("svc-"):
        print(f"unknown name {args.name!r}: one of {', '.join(stack.NAMES + services.SERVICES)}",
              file=sys.stderr)
        return 2
    proc = ManagedProcess(name, settings.pid_dir, settings.log_dir)
    if not proc.log_file.exists():
        print(f"no log yet: {proc.log_file}", file=sys.stderr)
        return 1
    print(proc.log_tail(args.lines))
    if args.follow:
        with open(proc.log_file, errors="replace") as f:
            f.seek(0, 2)
            try:
                while True:
                    line = f.readline()
                    if line:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                    else:
                        time.sleep(0.3)
            except KeyboardInterrupt:
                return 0
    return 0


def cmd_k8s(args: argparse.Namespace) -> int:
    """`k8s secrets|build|validate|render-edge|schemas` (infra/k8s/)."""
    from infra.k8s import manifests

    settings = _settings()
    if args.k8s_command == "secrets":
        from infra.k8s.secrets import render

        text = render(args.namespace)
        if args.out:
            Path(args.out).write_text(text)
            Path(args.out).chmod(0o600)
            say(f"wrote the Secrets of a new install to {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    if args.k8s_command == "build":
        sys.stdout.write(manifests.build(settings, args.overlay))
        return 0
    if args.k8s_command == "render-edge":
        from infra.edge import EdgeSettings
        from infra.k8s.edge import GENERATED, render

        out = Path(args.out) if args.out else GENERATED
        # Limits from PHOTOMESH_EDGE_* here; the committed files use the defaults.
        for path in render(out, settings=EdgeSettings() if args.out else None):
            print(path)
        return 0
    if args.k8s_command == "schemas":
        from infra.k8s.schemas import vendor

        for path in vendor(manifests.used_kinds(settings)):
            print(path.relative_to(REPO))
        return 0
    failed = 0
    streams = {name: manifests.build(settings, name) for name in manifests.overlays()}
    streams["secrets"] = manifests.secrets_stream()
    for name, stream in streams.items():
        result = manifests.validate(settings, stream, name)
        print(f"{name}: {result.output}")
        failed += not result.ok
    return 1 if failed else 0


def cmd_wheel(args: argparse.Namespace) -> int:
    from infra import client_package

    return client_package.main(_settings(), Path(args.out).resolve())


def run_codegen(command: str, rest: list[str]) -> int:
    from infra import codegen

    return int(codegen.main([command, *rest]) or 0)


def run_test(rest: list[str]) -> int:
    from infra import checks

    return int(checks.main(rest) or 0)


def run_test_cluster(rest: list[str]) -> int:
    """`test-cluster`: tests/cluster (marker ``cluster``, left out of `test`): three CQL
    nodes, three NATS servers and MinIO over four drives of their own (infra/cluster.py)
    start, one node of each dies under load, and the test checks nothing acknowledged is
    lost. About 5 minutes and 3 GB of memory; everything it starts it stops and removes."""
    import subprocess

    argv = [sys.executable, "-m", "pytest", "-m", "cluster", "-s", "-v", "tests/cluster", *rest]
    say("$ " + " ".join(argv))
    return subprocess.call(argv, cwd=REPO)


def run_chaos(rest: list[str]) -> int:
    """`chaos`: tests/chaos (marker ``chaos``): a stack of its own (infra/chaos.py: own run
    dir and ports, never the shared one) under load, every backend and process killed with
    -9 and restarted, then a table of what was acknowledged, present, lost and doubled.
    About 5 minutes; `./photomesh test` runs it too (last)."""
    import subprocess

    argv = [sys.executable, "-m", "pytest", "-m", "chaos", "-s", "-q", "tests/chaos", *rest]
    say("$ " + " ".join(argv))
    return subprocess.call(argv, cwd=REPO)


def run_bench(rest: list[str]) -> int:
    """`bench <name> [args]`: start the backends if needed, then ``python -m bench.<name>``
    (each benchmark runs its own private mesh from this checkout; see infra/sandbox.py).
    A benchmark is a module of bench/ or a package with a ``__main__`` (bench/cost/)."""
    import runpy

    from infra import stack

    names = sorted([p.stem for p in (REPO / "bench").glob("*.py")
                    if p.stem not in {"__init__", "harness"}]
                   + [p.parent.name for p in (REPO / "bench").glob("*/__main__.py")])
    if rest:
        rest = [rest[0].replace("-", "_"), *rest[1:]]  # `bench large-graph` = bench/large_graph
    if not rest or rest[0] not in names:
        print(f"usage: photomesh bench <name> [args]; benchmarks: {', '.join(names)}",
              file=sys.stderr)
        return 2
    settings = _installed_settings()
    if "--report" not in rest[1:]:  # a report only reads saved results
        stack.install_all(settings)
        stack.start_backends(settings)
    sys.argv = [f"bench.{rest[0]}", *rest[1:]]
    runpy.run_module(f"bench.{rest[0]}", run_name="__main__", alter_sys=True)
    return 0


def run_seed(rest: list[str]) -> int:
    from infra import seed

    return seed.main(rest)


#: Commands whose arguments all go to the delegate untouched (argparse would eat `-k`, `-x`).
PASSTHROUGH = {
    "gen": lambda rest: run_codegen("gen", rest),
    "lint": lambda rest: run_codegen("lint", rest),
    "breaking": lambda rest: run_codegen("breaking", rest),
    "test": run_test,
    "test-cluster": run_test_cluster,
    "chaos": run_chaos,
    "bench": run_bench,
    "seed": run_seed,
}


# --- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photomesh", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    only_help = "comma-separated backends (default: all), e.g. nats,redis"

    up = sub.add_parser("up", help="install what is missing, start backends and services")
    up.add_argument("--only", help=only_help)
    up.add_argument("--no-services", action="store_true", help="start the backends only")
    up.add_argument("--profile", choices=("single", "cluster"), default="single",
                    help="cluster: 3 CQL nodes (RF 3, QUORUM), 3 NATS servers (streams R3), "
                         "MinIO over 4 drives, on their own ports and run dir (infra/cluster.py)")
    up.add_argument("--observability", action="store_true",
                    help="also start Jaeger (traces from every service and the edge) and "
                         "print its URL; or PHOTOMESH_OBSERVABILITY=true")
    up.add_argument("--replicas", type=int, help="processes of every service and worker "
                    "(default PHOTOMESH_REPLICAS, 1); the edge and peers balance over them")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop our services, then our backends")
    down.add_argument("--only", help=only_help)
    down.add_argument("--profile", choices=("single", "cluster"), default="single")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="what runs: pids, endpoints, health")
    status.add_argument("--profile", choices=("single", "cluster"), default="single")
    status.set_defaults(func=cmd_status)

    install = sub.add_parser("install", help="install everything, start nothing")
    install.add_argument("--only", help=only_help)
    install.set_defaults(func=cmd_install)

    sub.add_parser("migrate", help="apply pending CQL schema migrations (backends running)"
                   ).set_defaults(func=cmd_migrate)

    logs = sub.add_parser("logs", help="tail the log of a backend or service")
    logs.add_argument("name", help="backend (nats, redis, ...) or service (auth, feed, ...; "
                      "post#2 for a second replica)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_logs)

    k8s = sub.add_parser("k8s", help="Kubernetes manifests in deploy/ (deploy/README.md)")
    k8s_sub = k8s.add_subparsers(dest="k8s_command", required=True, metavar="k8s_command")
    secrets = k8s_sub.add_parser("secrets", help="the Secrets of a new install, as YAML "
                                 "(`... | kubectl apply -f -`)")
    secrets.add_argument("--namespace", help="namespace of the objects (default: none)")
    secrets.add_argument("--out", help="write to this file (mode 0600) instead of stdout")
    build = k8s_sub.add_parser("build", help="kustomize build of an overlay")
    build.add_argument("overlay", help="dev or prod (deploy/overlays/)")
    k8s_sub.add_parser("validate", help="kubeconform -strict of every overlay and the secrets")
    edge = k8s_sub.add_parser("render-edge", help="the edge's Envoy files for the cluster "
                              "(default: deploy/base/edge/generated, as `gen` writes them)")
    edge.add_argument("--out", help="another directory; the limits then come from "
                      "PHOTOMESH_EDGE_*")
    k8s_sub.add_parser("schemas", help="re-vendor deploy/schemas for the kinds the overlays "
                       "use (downloads the pinned sources with `go mod download`)")
    k8s.set_defaults(func=cmd_k8s)

    wheel = sub.add_parser("wheel", help="build the Python client wheel (clients/python)")
    wheel.add_argument("--out", default=str(REPO / "dist"), help="directory for the wheel")
    wheel.set_defaults(func=cmd_wheel)

    # Listed for --help only: `main` hands their arguments over before argparse sees them.
    sub.add_parser("gen", help="generate Python code from protos/ (infra.codegen)")
    sub.add_parser("lint", help="buf lint")
    sub.add_parser("breaking", help="buf breaking against main")
    sub.add_parser("test", help="every CI check, then pytest (extra args go to pytest)")
    sub.add_parser("test-cluster", help="the failover test on the cluster profile (minutes)")
    sub.add_parser("chaos", help="kill -9 every backend and process of a stack of its own "
                                 "under load; count what was lost (minutes)")
    sub.add_parser("bench", help="run a benchmark of bench/ (`bench <name> [args]`)")
    sub.add_parser("seed", help="fill the running mesh with demo data (`seed --help`)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in PASSTHROUGH:
            return PASSTHROUGH[argv[0]](argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `./photomesh status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
