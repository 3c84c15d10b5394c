"""object-add / object-del for throttle-group objects, the only QOM objects the block model keeps.

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-drivers.json): the id
must be an identifier ("Parameter 'id' expects an identifier"), a second object with the id is
"attempt to add duplicate property '%s' to object (type 'container')" (checked after the
limits: found by the stateful test), a limit outside
[0, 1e15] is "bps/iops/max values must be within [0, 1000000000000000]". object-del of an
unknown id is "object '%s' not found", of a group a throttle node uses "object '%s' is in use,
can not be deleted" (11.1: "Cannot delete throttle group '%s' with active references", seen on
qsd@sid; fixtures/block/scenarios.json iotest-245-throttle-groups). A group's use count is the
throttle nodes naming it: the graph owns it. Other object types, legacy x-* properties and limit
combinations (bursts, sizes, totals with read/write) abstain.
"""

from __future__ import annotations

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.names import well_formed
from reference.qobject.values import QDict

PLAIN_LIMITS = frozenset({"bps-total", "bps-read", "bps-write", "iops-total", "iops-read", "iops-write"})
LIMIT_MAX = 1_000_000_000_000_000


def object_add(graph: BlockGraph, args: QDict) -> None:
    if args.get("qom-type") != "throttle-group":
        raise NotModelled(f"object-add: qom-type {args.get('qom-type')} is not modelled")
    extra = sorted(set(args.keys()) - {"qom-type", "id", "limits"})
    if extra:
        raise NotModelled(f"object-add: throttle-group property {extra[0]} is not modelled")
    ident = args.get("id")
    assert isinstance(ident, str), "the input visitor checked 'id'"
    if not well_formed(ident):
        raise BlockError("Parameter 'id' expects an identifier")
    limits_error = _limits_error(args.get("limits"))
    if limits_error is not None:  # the limits are set on the new object before it takes its id
        raise BlockError(limits_error)
    if ident in graph.throttle_groups:
        raise BlockError(f"attempt to add duplicate property '{ident}' to object (type 'container')")
    graph.throttle_groups.append(ident)


def _limits_error(limits: object) -> str | None:
    if limits is None:
        return None
    assert isinstance(limits, QDict), "the input visitor checked 'limits'"
    unknown = sorted(set(limits.keys()) - PLAIN_LIMITS)
    if unknown:
        raise NotModelled(f"object-add: throttle limit {unknown[0]} is not modelled")
    for kind in ("bps", "iops"):  # a total with read/write is refused (not pinned)
        if f"{kind}-total" in limits and (f"{kind}-read" in limits or f"{kind}-write" in limits):
            raise NotModelled("object-add: a total limit with read/write limits is not modelled")
    values = [value for _key, value in limits.items()]
    if any(not isinstance(value, int) or not 0 <= value <= LIMIT_MAX for value in values):
        return f"bps/iops/max values must be within [0, {LIMIT_MAX}]"
    return None


def users(graph: BlockGraph, group: str) -> int:
    return sum(1 for node in graph.nodes if node.driver == "throttle" and node.throttle_group == group)


def object_del(graph: BlockGraph, args: QDict) -> None:
    ident = args.get("id")
    assert isinstance(ident, str), "the input visitor checked 'id'"
    if ident not in graph.throttle_groups:
        raise BlockError(f"object '{ident}' not found")
    if users(graph, ident):
        raise BlockError(graph.profile.throttle_group_in_use_message.format(id=ident))
    graph.throttle_groups.remove(ident)
