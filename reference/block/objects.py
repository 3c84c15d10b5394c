"""object-add / object-del: QOM objects by type, one id space (iothreads: devices.py; throttle groups:
throttle_groups.py). Other types, and an id one kind has given to the other, abstain."""

from __future__ import annotations

from reference.block import devices, throttle_groups
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.qobject.values import QDict


def object_add(graph: BlockGraph, args: QDict) -> None:
    ident = args.get("id")
    if args.get("qom-type") != "throttle-group":
        if ident in graph.throttle_groups:
            raise NotModelled("object-add: an id a throttle group has is not modelled")
        devices.object_add(graph, args)
        return
    if graph.devices.in_use() or ident in graph.devices.iothreads:
        raise NotModelled("object-add: a throttle group next to guest devices or iothreads is not modelled")
    throttle_groups.object_add(graph, args)


def object_del(graph: BlockGraph, args: QDict) -> None:
    if graph.devices.in_use() or args.get("id") in graph.devices.iothreads:
        raise NotModelled("object-del with guest devices or of an iothread is not modelled")
    throttle_groups.object_del(graph, args)
