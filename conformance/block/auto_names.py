"""Step arguments that name a node QEMU named itself: "#@IMAGE".

QEMU names the nodes it opens on its own (a backing file from the image
header) "#block" + a counter + two random digits, so a case cannot spell such
a name. "#@IMAGE" in a step stands for the name of the format node over image
IMAGE's file (the one node whose drv is not 'file' and whose file is that
path), as the implementation reports it in query-named-block-nodes just before
the step; the oracle's matching self-named node takes that name too.
"""

from __future__ import annotations

from typing import Any

from conformance.block.session import Session
from conformance.errors import QconformError
from reference.block.drive import adopt_names

MARK = "#@"


def _marks(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_marks(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_marks(item) for item in value))
    return {value[len(MARK) :]} if isinstance(value, str) and value.startswith(MARK) else set()


def _replace(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, names) for item in value]
    if isinstance(value, str) and value.startswith(MARK):
        return names[value[len(MARK) :]]
    return value


def with_auto_names(step: dict[str, Any], session: Session, paths: dict[str, str]) -> dict[str, Any]:
    """The step with each "#@IMAGE" replaced by the name QEMU gave that image's format node."""
    wanted = _marks(step)
    if not wanted:
        return step
    reply = session.ask({"execute": "query-named-block-nodes", "arguments": {"flat": True}})
    names: dict[str, str] = {}
    for image in sorted(wanted):
        if image not in paths:
            raise QconformError(f"step names #@{image}: the fixture has no image {image!r}")
        found = [
            n["node-name"]
            for n in reply.get("return", [])
            if n["file"] == paths[image] and n["drv"] != "file"
        ]
        ours = [n for n in session.graph.nodes if n.filename == paths[image] and n.driver != "file"]
        if len(found) != 1 or len(ours) != 1 or not ours[0].auto_named:
            raise QconformError(f"step names #@{image}: no single node QEMU named itself over that image")
        names[image] = found[0]
        adopt_names(session.graph, {ours[0].name: found[0]})
    replaced: dict[str, Any] = _replace(step, names)
    return replaced
