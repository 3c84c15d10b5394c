"""The plain blockdev-reopen (reference/block/reopen_plain.py) against the full path, on fake storage.

Each scenario is built twice; the same sequence of reopens (every mix of read-only,
auto-read-only, backing and 'file' as given or left out, on every format node) goes to
both graphs, one with the plain path switched off. Every outcome (reply or error) and
every node's fields after each step must be the same. Pinned on real binaries by the
block cases reopen-*.json and iotest 245's.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest

from block.test_block_model import FakeStorage
from reference.block import reopen_plain
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, qnull

BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, False, "/base", "qcow2", "/base")
FILES: dict[str, tuple[bool, ImageFacts | None]] = {
    "/base": (True, BASE), "/top": (True, TOP), "/solo": (True, BASE), "/locked": (False, BASE)
}  # fmt: skip
NEVER_PLAIN = {"raw over a file", "header's backing"}  # raw; a backing child opened with the node
UNCOMPARED = {"stamp", "image_stamp", "query_cache"}


def file(name: str, path: str, extra: dict[str, bool] | None = None) -> QDict:
    return QDict({"driver": "file", "node-name": name, "filename": path, **(extra or {})})


def qcow2(name: str, child: QDict | str, extra: dict[str, bool | str] | None = None) -> QDict:
    return QDict({"driver": "qcow2", "node-name": name, "file": child, **(extra or {})})


# Each scenario: the blockdev-add arguments, in order.
SCENARIOS: dict[str, list[QDict]] = {
    "inline file": [qcow2("s", file("sf", "/solo"))],
    "file added apart": [file("sf", "/solo"), qcow2("s", "sf")],
    "named chain": [qcow2("b", file("bf", "/base")), qcow2("c", file("cf", "/top"), {"backing": "b"})],
    "header's backing": [qcow2("t", file("tf", "/top"))],
    "explicit file flags": [
        qcow2("s", file("sf", "/solo", {"read-only": True, "auto-read-only": True}), {"read-only": True})
    ],
    "read-only file on disk": [
        qcow2("s", file("sf", "/locked", {"auto-read-only": True}), {"read-only": True})
    ],
    "auto-read-only node": [qcow2("s", file("sf", "/solo"), {"auto-read-only": True, "discard": "unmap"})],
    "raw over a file": [QDict({"driver": "raw", "node-name": "r", "file": file("rf", "/solo")})],
}


def build(adds: list[QDict]) -> BlockGraph:
    graph = BlockGraph(FakeStorage(FILES))
    for options in adds:
        graph.add(QDict(dict(options.items())))
    return graph


def entries(graph: BlockGraph) -> list[QDict]:
    """Every mix of the plain entry's keys, for each format node, in a fixed order."""
    found = []
    for node in graph.nodes:
        if node.driver not in ("qcow2", "raw") or node.file_child is None:
            continue
        backings: list[object] = [qnull, None] + ([node.backing.name] if node.backing else ["sf"])
        for read_only, auto, backing, named_file in itertools.product(
            (None, True, False), (None, True, False), backings, (True, False)
        ):
            entry = QDict({"driver": node.driver, "node-name": node.name})
            if named_file:
                entry.put("file", node.file_child.name)
            if backing is not None and node.driver == "qcow2":
                entry.put("backing", backing)  # type: ignore[arg-type]
            for key, value in (("read-only", read_only), ("auto-read-only", auto)):
                if value is not None:
                    entry.put(key, value)
            found.append(entry)
    return found


def outcome(graph: BlockGraph, entry: QDict) -> str:
    try:
        blockdev_reopen(graph, [QDict(dict(entry.items()))])
    except (BlockError, NotModelled) as error:
        return f"{type(error).__name__}: {error}"
    return "ok"


def plain(value: object) -> object:
    """A field's value with nodes by name (nodes refer to each other)."""
    if isinstance(value, Node):
        return ("node", value.name)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {repr(plain(k)): plain(v) for k, v in value.items()}
    return value


def state(graph: BlockGraph) -> list[object]:
    return [
        [(f.name, plain(getattr(node, f.name))) for f in dataclasses.fields(node) if f.name not in UNCOMPARED]
        for node in graph.nodes
    ]


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reopens the plain path takes."""
    taken = [0]
    original: Callable[..., object] = reopen_plain.commit

    def commit(*args: object) -> None:
        taken[0] += 1
        original(*args)

    monkeypatch.setattr("reference.block.reopen.commit", commit)
    return taken


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_plain_path_answers_as_the_full_path(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, full = build(SCENARIOS[scenario]), build(SCENARIOS[scenario])
    taken = counting(monkeypatch)
    assert state(fast) == state(full)
    for entry in entries(fast):
        got = outcome(fast, entry)
        monkeypatch.setattr(reopen_plain, "ENABLED", False)
        expected = outcome(full, entry)
        monkeypatch.setattr(reopen_plain, "ENABLED", True)
        assert got == expected, entry
        assert state(fast) == state(full), entry
    if scenario not in NEVER_PLAIN:
        assert taken[0] > 0, "the plain path was never taken"


def test_the_benchmark_reopen_is_plain() -> None:
    graph = build(SCENARIOS["named chain"])
    entry = QDict({"driver": "qcow2", "node-name": "b", "file": "bf", "backing": qnull, "read-only": True})
    assert reopen_plain.plain_entry(graph, [entry]) is not None
    # another option, a second entry or a job each take the full path
    assert reopen_plain.plain_entry(graph, [QDict({**dict(entry.items()), "discard": "unmap"})]) is None
    assert reopen_plain.plain_entry(graph, [entry, entry]) is None
