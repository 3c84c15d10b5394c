"""Handlers for the commands the oracle models.

A handler gets the parsed arguments (already checked by the input visitor)
and returns the command's return value, or raises CommandError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference.block import commands as block
from reference.block import devices, job_commands, objects
from reference.block.errors import BlockError
from reference.block.errors import NotModelled as BlockNotModelled
from reference.block.hmp import human_monitor_command
from reference.block.reopen import x_blockdev_reopen
from reference.block.storage import UnknownStorage
from reference.profiles import Flavour
from reference.qobject.values import QDict, QObject

if TYPE_CHECKING:
    from reference.block.graph import BlockGraph
    from reference.qmp.monitor import QmpConnection


@dataclass(frozen=True)
class CommandError(Exception):
    error_class: str
    desc: str


@dataclass(frozen=True)
class Quit:
    """Return value of quit: the process leaves after answering."""


Handler = Callable[["QmpConnection", QDict], QObject | Quit | None]


def qmp_capabilities(conn: QmpConnection, args: QDict) -> None:
    if conn.negotiated:
        raise CommandError("CommandNotFound", "Capabilities negotiation is already complete, command ignored")
    requested = args.get("enable")
    wanted = set(requested) if isinstance(requested, list) else set()
    for capability in sorted(wanted, key=str):
        if capability not in conn.process.profile.offered_capabilities:
            raise CommandError("GenericError", f"Capability {capability} not available")
    conn.enter_command_mode(oob="oob" in wanted)


def query_version(conn: QmpConnection, args: QDict) -> QObject:
    return conn.process.version


def query_commands(conn: QmpConnection, args: QDict) -> QObject:
    process = conn.process
    return [QDict({"name": name}) for name in process.command_order if name not in process.disabled]


def query_qmp_schema(conn: QmpConnection, args: QDict) -> QObject:
    return conn.process.introspection


def quit_(conn: QmpConnection, args: QDict) -> Quit:
    return Quit()


def _block_handler(command: Callable[[BlockGraph, QDict], QObject | None]) -> Handler:
    """A reference.block command as a handler: its BlockError is QEMU's error of that class."""

    def handler(conn: QmpConnection, args: QDict) -> QObject | None:
        graph = conn.process.block or conn.process.attach_storage(UnknownStorage())
        if graph.devices.in_use() and command not in WITH_DEVICES:
            raise BlockNotModelled(f"{command.__name__} with guest devices is not modelled")
        if graph.devices.incoming and command not in (*WITH_DEVICES, block.blockdev_add):
            raise BlockNotModelled(f"{command.__name__} during -incoming (inactive nodes) is not modelled")
        try:
            return command(graph, args)
        except BlockError as err:
            raise CommandError(err.error_class, err.desc) from None

    return handler


# The block commands modelled while guest devices exist (reference/block/devices.py).
WITH_DEVICES: tuple[Callable[[BlockGraph, QDict], QObject | None], ...] = (
    block.query_named_block_nodes,
    block.blockdev_reopen,
    objects.object_add,
    devices.device_add,
)

HANDLERS: dict[str, Handler] = {
    "qmp_capabilities": qmp_capabilities,
    "query-version": query_version,
    "query-commands": query_commands,
    "query-qmp-schema": query_qmp_schema,
    "quit": quit_,
    "blockdev-add": _block_handler(block.blockdev_add),
    "blockdev-del": _block_handler(block.blockdev_del),
    "query-named-block-nodes": _block_handler(block.query_named_block_nodes),
    "blockdev-reopen": _block_handler(block.blockdev_reopen),
    "x-blockdev-reopen": _block_handler(x_blockdev_reopen),
    "block-commit": _block_handler(block.block_commit),
    "block-stream": _block_handler(block.block_stream),
    "query-block-jobs": _block_handler(block.query_block_jobs),
    "block-job-complete": _block_handler(block.block_job_complete),
    "block-job-cancel": _block_handler(block.block_job_cancel),
    "job-complete": _block_handler(block.job_complete),
    "job-cancel": _block_handler(block.job_cancel),
    "job-finalize": _block_handler(block.job_finalize),
    "job-dismiss": _block_handler(block.job_dismiss),
    "block-job-pause": _block_handler(job_commands.block_job_pause),
    "block-job-resume": _block_handler(job_commands.block_job_resume),
    "job-pause": _block_handler(job_commands.job_pause),
    "job-resume": _block_handler(job_commands.job_resume),
    "block-job-set-speed": _block_handler(job_commands.block_job_set_speed),
    "query-jobs": _block_handler(block.query_jobs),
    "nbd-server-start": _block_handler(block.nbd_server_start),
    "nbd-server-stop": _block_handler(block.nbd_server_stop),
    "nbd-server-add": _block_handler(block.nbd_server_add),
    "nbd-server-remove": _block_handler(block.nbd_server_remove),
    "block-export-add": _block_handler(block.block_export_add),
    "block-export-del": _block_handler(block.block_export_del),
    "query-block-exports": _block_handler(block.query_block_exports),
    "human-monitor-command": _block_handler(human_monitor_command),
    "object-add": _block_handler(objects.object_add),
    "object-del": _block_handler(objects.object_del),
}
# Commands whose handler reads the raw arguments (the profile's unvisited_commands).
RAW_HANDLERS: dict[str, Handler] = {"device_add": _block_handler(devices.device_add)}

# qemu-system reports the shutdown before it answers quit; the daemon just leaves.
QUIT_EMITS_SHUTDOWN = {Flavour.SYSTEM: True, Flavour.STORAGE_DAEMON: False}
