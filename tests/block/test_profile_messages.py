"""Block messages the version words differently (5.2 vs 7.2), offline.

Pinned on the binaries by fixtures/block/scenarios.json (iotest-247, iotest-249,
iotest-249-more on qemu-system@bullseye and the host 7.2) and the QMP quit cases.
"""

from __future__ import annotations

import pytest

from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.storage import UnknownStorage
from reference.profiles import get_profile
from reference.qobject.values import QDict


def _add(graph: BlockGraph, name: str) -> None:
    graph.add(QDict({"driver": "null-co", "node-name": name}))


@pytest.mark.parametrize(
    ("profile", "invalid", "duplicate", "missing"),
    [
        ("7.2", "Invalid node-name: '1234'", "Duplicate nodes with node-name='a'",
         "Cannot find device='nosuch' nor node-name='nosuch'"),
        ("5.2", "Invalid node name", "Duplicate node name", "Cannot find device=nosuch nor node_name=nosuch"),
    ],
)  # fmt: skip
def test_node_name_and_lookup_messages(profile: str, invalid: str, duplicate: str, missing: str) -> None:
    graph = BlockGraph(UnknownStorage(), get_profile(profile))
    with pytest.raises(BlockError) as err:
        _add(graph, "1234")
    assert err.value.desc == invalid
    _add(graph, "a")
    with pytest.raises(BlockError) as err:
        _add(graph, "a")
    assert err.value.desc == duplicate
    with pytest.raises(BlockError) as err:
        graph.add(QDict({"driver": "raw", "node-name": "r", "file": "nosuch"}))
    assert err.value.desc == missing
