"""HMP `qemu-io DEVICE "COMMAND"`: not modelled yet (abstains)."""

from __future__ import annotations

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph


def qemu_io(graph: BlockGraph, rest: str) -> str:
    raise NotModelled("HMP qemu-io is not modelled")
