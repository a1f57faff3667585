"""`./photomesh test`: everything CI checks, in order, stopping at the first failure.

1. install what the tests need (cached outside the repo; first run builds it),
2. generated code is current (`gen --check`), `buf lint`, `buf breaking` against main,
3. ruff, mypy --strict over the client layer (clients/python/photomesh_client) and
   the web app's TypeScript (`tsc --noEmit`, strict),
4. pytest against the real backends (its fixtures start them, or reuse running ones).
Arguments after `test` go to pytest (e.g. `./photomesh test -k auth -x`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infra.progress import say, step

REPO = Path(__file__).resolve().parent.parent
LINTED = ["services", "infra", "tests", "bench", "clients/python/photomesh_client"]
CLIENT_PROJECT = REPO / "clients" / "python"  # mypy reads its [tool.mypy] there


def _run(argv: list[str], cwd: Path = REPO) -> int:
    say("$ " + " ".join(argv))
    return subprocess.call(argv, cwd=cwd)


def main(argv: list[str]) -> int:
    from infra import codegen, stack
    from infra.settings import InfraSettings

    settings = InfraSettings()
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
    with step("pytest"):
        code = _run([sys.executable, "-m", "pytest", *argv])
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
