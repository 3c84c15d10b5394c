"""HMP `info block`: not modelled yet (abstains)."""

from __future__ import annotations

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph


def info_block(graph: BlockGraph, rest: str) -> str:
    raise NotModelled("HMP info block is not modelled")
