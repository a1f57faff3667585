"""`./photomesh test`: everything CI checks, in order, stopping at the first failure.

1. install what the tests need (cached outside the repo; first run builds it),
2. generated code is current (`gen --check`), `buf lint`, `buf breaking` against main,
3. ruff, mypy --strict over the client layer (clients/python/photomesh_client) and
   the web app's TypeScript (`tsc --noEmit`, strict),
4. pytest against the real backends (its fixtures start them, or reuse running ones); with
   no arguments (CI), in three sessions side by side: the suite in two halves
   (SECOND_HALF and the rest), and REPLICA_SUBSET again against a mesh of two processes
   of every service and worker (tests/conftest.py reads PHOTOMESH_TEST_REPLICAS);
5. with no arguments (CI), the chaos suite (tests/chaos, `./photomesh chaos`): a stack of
   its own, every backend and process killed under load, nothing acknowledged lost.
Arguments after `test` go to pytest (e.g. `./photomesh test -k auth -x`); to run any tests
against replicas: `PHOTOMESH_TEST_REPLICAS=2 ./photomesh test tests/feed`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.layout import PORT_BLOCK_VARIABLE
from infra.progress import say, step

REPO = Path(__file__).resolve().parent.parent
LINTED = ["services", "infra", "tests", "bench", "clients/python/photomesh_client"]
CLIENT_PROJECT = REPO / "clients" / "python"  # mypy reads its [tool.mypy] there
#: The second half of the suite, run beside the first (everything else): the tests wait
#: on events far more than they compute (one session alone leaves about 80% of this 2-core
#: machine idle), so halves side by side take little longer than the longer half. Chosen
#: by measured time (`PYTEST_ADDOPTS=--durations=0 ./photomesh test`); a new directory
#: joins the first half.
SECOND_HALF = ["tests/post", "tests/graph", "tests/feed", "tests/notification",
               "tests/discovery", "tests/story", "tests/message", "tests/observability"]
#: Tests that cover every service and worker, through peers and through the edge, run again
#: with two processes of each (about 3 minutes on a loaded 2-core machine).
REPLICA_SUBSET = [
    "tests/runtime/test_replicas.py", "tests/runtime/test_metrics.py",
    "tests/edge/test_grpc.py", "tests/edge/test_rest.py",
    "tests/auth/test_accounts.py", "tests/graph/test_follows.py", "tests/post/test_posts.py",
    "tests/feed/test_home_feed.py", "tests/story/test_stories.py",
    "tests/media/test_uploads.py", "tests/notification/test_delivery.py",
    "tests/message/test_messages.py", "tests/discovery/test_search.py",
]
REPLICAS = "2"


@dataclass(frozen=True)
class Session:
    """One pytest session of the full run, with its own ports (below the kernel's
    ephemeral range and the backends' ports) and, but for the first, its own log."""

    name: str
    args: list[str]
    ports: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return REPO / f".pytest-{self.name}.log"


SESSIONS = [
    Session("first-half", [f"--ignore={d}" for d in SECOND_HALF], "30000-31349"),
    Session("second-half", SECOND_HALF, "31350-32699"),
    Session("replicas", ["-p", "no:cacheprovider", *REPLICA_SUBSET], "27000-29199",
            {"PHOTOMESH_TEST_REPLICAS": REPLICAS}),
]


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
    # The full run: the sessions side by side on backends started once for them (each
    # session has its own keyspace, prefixes, mesh and edge).
    with step("starting backends for the test sessions"):
        started = stack.start_backends(settings)
    try:
        code = _side_by_side(SESSIONS)
    finally:
        if started:
            stack.stop_backends(settings, only=started)
    if code != 0:
        return code
    with step("chaos suite (a stack of its own; kill -9 of every backend and process)"):
        return _run([sys.executable, "-m", "pytest", "-m", "chaos", "-s", "-q",
                     "tests/chaos"])


def _side_by_side(sessions: list[Session]) -> int:
    """Run `sessions` at once: the first in the foreground, the others into their logs,
    each shown when all have ended. Nonzero if any failed."""
    first, *others = sessions
    with step(f"pytest in {len(sessions)} sessions side by side ("
              + ", ".join(s.name for s in sessions) + f"); {first.name} shown live, the "
              "others when they end"):
        running = []
        for session in others:
            argv = [sys.executable, "-m", "pytest", "-q", *session.args]
            say("$ " + " ".join(argv) + f" > {session.log.name}")
            with open(session.log, "wb") as log:
                running.append((session, subprocess.Popen(
                    argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                    env=dict(os.environ, **session.env,
                             **{PORT_BLOCK_VARIABLE: session.ports}))))
        try:
            code = _run([sys.executable, "-m", "pytest", *first.args],
                        env=dict(os.environ, **first.env,
                                 **{PORT_BLOCK_VARIABLE: first.ports}))
        finally:
            codes = [(session, proc.wait()) for session, proc in running]
        for session, session_code in codes:
            say(f"the {session.name} session ({session.log.name}):")
            sys.stdout.write(session.log.read_text(errors="replace"))
            sys.stdout.flush()
            if session_code != 0:
                say(f"FAILED: the {session.name} session")
            code = code or session_code
        return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
