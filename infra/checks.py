"""`./photomesh test`: everything CI checks, in order, stopping at the first failure.

1. install what the tests need (cached outside the repo; first run builds it),
2. generated code is current (`gen --check`), `buf lint`, `buf breaking` against main,
3. ruff, mypy --strict over the client layer (clients/python/photomesh_client) and
   the web app's TypeScript (`tsc --noEmit`, strict),
4. pytest against the real backends (its fixtures start them, or reuse running ones);
5. with no arguments (CI), beside it, REPLICA_SUBSET again against a mesh of two processes
   of every service and worker (tests/conftest.py reads PHOTOMESH_TEST_REPLICAS);
6. with no arguments (CI), the chaos suite (tests/chaos, `./photomesh chaos`): a stack of
   its own, every backend and process killed under load, nothing acknowledged lost.
Arguments after `test` go to pytest (e.g. `./photomesh test -k auth -x`); to run any tests
against replicas: `PHOTOMESH_TEST_REPLICAS=2 ./photomesh test tests/feed`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.layout import PORT_BLOCK_VARIABLE
from infra.progress import say, step

REPO = Path(__file__).resolve().parent.parent
LINTED = ["services", "infra", "tests", "bench", "clients/python/photomesh_client"]
CLIENT_PROJECT = REPO / "clients" / "python"  # mypy reads its [tool.mypy] there
#: Tests that cover every service and worker, through peers and through the edge, run again
#: with two processes of each (about 4 minutes on a loaded 2-core machine).
REPLICA_SUBSET = [
    "tests/runtime/test_replicas.py", "tests/runtime/test_metrics.py",
    "tests/edge/test_grpc.py", "tests/edge/test_rest.py",
    "tests/auth/test_accounts.py", "tests/graph/test_follows.py", "tests/post/test_posts.py",
    "tests/feed/test_home_feed.py", "tests/story/test_stories.py",
    "tests/media/test_uploads.py", "tests/notification/test_delivery.py",
    "tests/message/test_messages.py", "tests/discovery/test_search.py",
]
REPLICAS = "2"
#: Each session's own ports (below the kernel's ephemeral range and the backends' ports).
MAIN_PORTS, SUBSET_PORTS = "30000-32699", "27000-29199"


def _run(argv: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> int:
    say("$ " + " ".join(argv))
    return subprocess.call(argv, cwd=cwd, env=env)


def main(argv: list[str]) -> int:
    from infra import codegen, credentials, stack
    from infra.settings import InfraSettings

    settings = credentials.for_tests(InfraSettings())
    with step("installing backends (cached after the first run)"):
        stack.install_all(settings)
    for name, args in (("generated code is current", ["gen", "--check"]),
                       ("buf lint", ["lint"]), ("buf breaking", ["breaking"])):
        with step(name):
            if codegen.main(args) != 0:
                say(f"FAILED: {name}")
                return 1
    with step("ruff"):
        targets = [t for t in LINTED if (REPO / t).exists()]
        if _run([sys.executable, "-m", "ruff", "check", *targets]) != 0:
            return 1
    with step("mypy (client layer)"):
        if _run([sys.executable, "-m", "mypy"], cwd=CLIENT_PROJECT) != 0:
            return 1
    with step("web app type check (tsc)"):
        from infra.process import ProcessError
        from infra.web import type_check

        try:
            type_check(settings)
        except ProcessError as e:
            say(str(e))
            return 1
    if argv:
        with step("pytest"):
            return _run([sys.executable, "-m", "pytest", *argv])
    # The full run: both sessions side by side on backends started once for them (each
    # session has its own keyspace, prefixes, mesh and edge); the tests wait on events
    # more than they compute, so together they take little longer than the longer one.
    with step("starting backends for the test sessions"):
        started = stack.start_backends(settings)
    try:
        code = _both_sessions(REPO / ".pytest-replicas.log")
    finally:
        if started:
            stack.stop_backends(settings, only=started)
    if code != 0:
        return code
    with step("chaos suite (a stack of its own; kill -9 of every backend and process)"):
        return _run([sys.executable, "-m", "pytest", "-m", "chaos", "-s", "-q",
                     "tests/chaos"])


def _both_sessions(subset_log: Path) -> int:
    with step(f"pytest, and beside it a subset with {REPLICAS} processes of every service "
              f"and worker (its output: {subset_log.name}, shown when it ends)"):
        env = dict(os.environ, PHOTOMESH_TEST_REPLICAS=REPLICAS,
                   **{PORT_BLOCK_VARIABLE: SUBSET_PORTS})
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                *REPLICA_SUBSET]
        say("$ " + " ".join(argv) + f" > {subset_log.name}")
        with open(subset_log, "wb") as log:
            subset = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
        try:
            code = _run([sys.executable, "-m", "pytest"],
                        env=dict(os.environ, **{PORT_BLOCK_VARIABLE: MAIN_PORTS}))
        finally:
            subset_code = subset.wait()
        say(f"the replica subset ({subset_log.name}):")
        sys.stdout.write(subset_log.read_text(errors="replace"))
        sys.stdout.flush()
        if subset_code != 0:
            say("FAILED: the replica subset")
        return code or subset_code

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
