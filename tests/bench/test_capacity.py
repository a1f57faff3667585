"""The capacity model (bench/capacity.py) is computed from the cost benchmark's JSON: the
published document is what that JSON gives today, and the tables move with the figures."""

from __future__ import annotations

import copy
import json
import re

from bench import capacity


def _source() -> str:
    header = capacity.DOC.read_text().splitlines()[2]
    found = re.search(r"from (\S+);", header)
    assert found is not None, header
    return found.group(1)


def test_docs_capacity_is_what_its_json_gives() -> None:
    source = _source()
    cost = json.loads((capacity.REPO / source).read_text())
    assert capacity.render(cost, source) == capacity.DOC.read_text(), \
        "docs/capacity.md is stale: run ./photomesh bench capacity"


def test_a_cheaper_feed_read_needs_fewer_cores() -> None:
    source = _source()
    cost = json.loads((capacity.REPO / source).read_text())
    cheaper = copy.deepcopy(cost)
    feed = next(op for op in cheaper["operations"] if op["key"] == "feed_grpc")
    cpu = feed["cpu_ms_per_op"]
    cpu["processes"] = {name: ms / 2 for name, ms in cpu["processes"].items()}
    cpu["own"], cpu["mesh"] = cpu["own"] / 2, cpu["mesh"] / 2

    def cores(doc: str) -> int:
        found = re.search(r"busy → ([\d,]+) cores", doc)
        assert found is not None
        return int(found.group(1).replace(",", ""))

    assert cores(capacity.render(cheaper, source)) < cores(capacity.render(cost, source))
