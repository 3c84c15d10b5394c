"""QEMU as an NBD client over TCP on 127.0.0.1: a few servers, the nbd-client family's TCP rows.

The "tcp" section of fixtures/block/nbd-client.json names the servers: the
matrix's own TCP server, or a unix-socket server of fixtures/nbd/servers.json
with its socket arguments swapped for a 127.0.0.1 listener. Each runs per
export mode; each cell adds a node over {type: inet, host: 127.0.0.1, port},
reads query-named-block-nodes and removes the node. Two more cells per server
pin the errors: a port nothing listens on, and an export name the server
refuses. Only loopback is ever dialled: `loopback_port` refuses anything else.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from conformance.block.nbd_table import FIXTURE
from conformance.block.records import (
    CellRecord,
    cell_id,
    crashed_cells,
    flag,
    observed_error,
    opened,
    predicted_error,
    status_of,
)
from conformance.block.seed_table import predicted_ro
from conformance.block.session import Session, Step
from conformance.errors import QconformError
from conformance.implementations import Implementation
from conformance.jsonfile import read_json
from conformance.nbd.matrix import Matrix, ServerSpec, load_matrix
from conformance.nbd.runner import free_port, running
from conformance.nbd.session import Address, ProbeError, parse_info_export
from conformance.nbd.session import Session as NbdSession
from conformance.process import StartError
from conformance.storage import HostStorage
from reference.block.errors import NotModelled
from reference.block.storage import NbdExport
from reference.nbd import constants as nbd_c
from reference.nbd import wire as nbd_wire

HOST = "127.0.0.1"
PROBE_TIMEOUT = 5.0
CLOSED, UNKNOWN = "closed port", "unknown export"
NO_SUCH_EXPORT = "qconform-no-such-export"


def loopback_port(address: Address) -> int:
    """The port of a TCP address on loopback; any other address is a harness bug and stops here."""
    if not isinstance(address, tuple) or not ipaddress.ip_address(address[0]).is_loopback:
        raise QconformError(f"NBD over TCP talks to loopback only, not {address}")
    return int(address[1])


def load_tcp(matrix: Matrix | None = None) -> tuple[dict[str, Any], list[ServerSpec]]:
    """The TCP section of the fixture and the server specs it names, each listening on 127.0.0.1."""
    matrix = matrix or load_matrix()
    section = read_json(FIXTURE).get("tcp")
    if (
        not isinstance(section, dict)
        or not isinstance(section.get("servers"), list)
        or not section["servers"]
    ):
        raise QconformError(f"{FIXTURE}: tcp.servers must be a non-empty list")
    for key in ("modes", "shapes", "read-only"):
        if not isinstance(section.get(key), list) or not section[key]:
            raise QconformError(f"{FIXTURE}: tcp.{key} must be a non-empty list")
    known = {s.name: s for s in matrix.servers}
    specs: list[ServerSpec] = []
    for entry in section["servers"]:
        base = known.get(entry.get("from", ""))
        if base is None:
            raise QconformError(f"{FIXTURE}: tcp server {entry.get('name')} names no matrix server")
        specs.append(_over_tcp(entry, base))
    return section, specs


def _over_tcp(entry: dict[str, Any], base: ServerSpec) -> ServerSpec:
    swap: dict[str, list[str]] = entry.get("swap", {})
    argv = tuple(new for arg in base.argv for new in swap.get(arg, [arg]))
    if any("{socket}" in a for a in argv) or not any("{port}" in a for a in argv):
        raise QconformError(f"{FIXTURE}: tcp server {entry['name']} must listen on {{port}}, not a socket")
    addresses = [a for a in argv if _looks_like_ip(a.split("=", 1)[-1])]
    if any(not ipaddress.ip_address(a.split("=", 1)[-1]).is_loopback for a in addresses):
        raise QconformError(f"{FIXTURE}: tcp server {entry['name']} binds outside loopback: {addresses}")
    return replace(base, name=str(entry["name"]), transport="tcp", argv=argv, host_name=base.name)


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class TcpNbdStorage(HostStorage):
    """Host storage, whose NBD facts are those of servers on loopback ports, keyed "HOST:PORT"."""

    @staticmethod
    def _address(key: str) -> tuple[str, int]:
        host, _, port = key.rpartition(":")
        address = (host, int(port))
        loopback_port(address)
        return address

    def nbd_connect_error(self, key: str) -> str | None:
        try:
            with socket.create_connection(self._address(key), timeout=PROBE_TIMEOUT):
                return None
        except ConnectionRefusedError:
            return os.strerror(errno.ECONNREFUSED)
        except OSError as err:
            raise NotModelled(f"connect to {key}: {err}") from None

    def nbd_export(self, socket_path: str, export: str) -> NbdExport:
        """The export as QEMU's client asks for it: NBD_OPT_GO, then a clean NBD_CMD_DISC."""
        key = socket_path  # here "HOST:PORT"
        try:
            with NbdSession(self._address(key), PROBE_TIMEOUT) as s:
                s.handshake()
                replies = s.option(nbd_c.OPT_GO, nbd_wire.info_request_data(export, []))
                with contextlib.suppress(OSError):
                    done = replies[-1].reply == nbd_c.REP_ACK
                    s.send(
                        s.client.request(nbd_c.CMD_DISC, 0, 0, 0)
                        if done
                        else s.client.option(nbd_c.OPT_ABORT)
                    )
        except (OSError, ProbeError) as err:
            raise NotModelled(f"NBD export {export!r} at {key}: probe failed: {err}") from None
        if replies[-1].reply == nbd_c.REP_ERR_UNKNOWN:
            return NbdExport(exists=False)
        infos = [i for i in map(parse_info_export, replies) if i is not None]
        if replies[-1].reply != nbd_c.REP_ACK or not infos:
            raise NotModelled(f"NBD export {export!r} at {key}: NBD_OPT_GO answered {replies[-1].reply:#x}")
        size, flags = infos[-1]
        return NbdExport(exists=True, read_only=bool(flags & nbd_c.FLAG_READ_ONLY), size=size)


@dataclass(frozen=True)
class Cell:
    server: str
    mode: str  # read-only | writable | CLOSED | UNKNOWN
    shape: str
    read_only: bool | None

    def arguments(self, name: str, port: int, export: str) -> dict[str, Any]:
        nbd: dict[str, Any] = {
            "driver": "nbd",
            "server": {"type": "inet", "host": HOST, "port": str(port)},
            "export": NO_SUCH_EXPORT if self.mode == UNKNOWN else export,
        }
        args: dict[str, Any] = (
            {**nbd, "node-name": name}
            if self.shape == "nbd"
            else {"driver": "raw", "node-name": name, "file": nbd}
        )
        if self.read_only is not None:
            args["read-only"] = self.read_only
        return args

    def columns(self) -> dict[str, str]:
        return {"server": self.server, "export": self.mode, "node": self.shape,
                "read-only": flag(self.read_only), "auto-read-only": flag(None),
                "front end": "blockdev-add"}  # fmt: skip


def cells(section: dict[str, Any], server: str, mode: str) -> Iterator[Cell]:
    for shape in section["shapes"]:
        for ro in section["read-only"]:
            yield Cell(server, mode, shape, ro)
    if mode == section["modes"][-1]:  # the error cells once per server, with the last mode's server
        yield Cell(server, CLOSED, "nbd", None)
        yield Cell(server, UNKNOWN, "nbd", None)


def tcp_family(impl: Implementation) -> tuple[list[CellRecord], list[tuple[str, str]]]:
    """Every TCP server's cells on a host implementation, and the servers missing (name, why)."""
    from conformance.nbd.runner import missing_reason

    section, specs = load_tcp()
    records: list[CellRecord] = []
    missing: list[tuple[str, str]] = []
    for spec in specs:
        reason = missing_reason(spec)
        if reason is not None:
            missing.append((spec.name, reason))
            continue
        for mode in section["modes"]:
            records += tcp_group(impl, spec, mode, section)
    return records, missing


def tcp_group(impl: Implementation, spec: ServerSpec, mode: str, section: dict[str, Any]) -> list[CellRecord]:
    matrix = load_matrix()
    group = list(cells(section, spec.name, mode))
    records: list[CellRecord] = []
    with running(spec, matrix, mode) as (_process, target):
        port = loopback_port(target.address)
        try:
            session = Session(impl, TcpNbdStorage())
        except (StartError, AssertionError, OSError) as err:
            return _crashed(impl, group, str(err))
        try:
            for index, cell in enumerate(group):
                used = free_port() if cell.mode == CLOSED else port  # nothing listens on a fresh free port
                records.append(_run(session, cell, index, used, matrix.export, impl))
        except (AssertionError, OSError) as err:
            records += _crashed(impl, group[len(records) :], session.instance.crash_report() or str(err))
        finally:
            session.close()
    return records


def _run(
    session: Session, cell: Cell, index: int, port: int, export: str, impl: Implementation
) -> CellRecord:
    name = f"t{index}"
    first = len(session.sent)
    add = session.run({"execute": "blockdev-add", "arguments": cell.arguments(name, port, export)})
    query = session.run({"execute": "query-named-block-nodes"})
    nodes = query.reply.get("return", []) if "return" in query.reply else []
    root = next((n for n in nodes if n.get("node-name") == name), None)
    if "return" in add.reply:
        session.run({"execute": "blockdev-del", "arguments": {"node-name": name}})
    ro = None if root is None else root["ro"]
    return _record(cell, add, query, ro, predicted_ro(query, name), tuple(session.sent[first:]), impl)


def _record(
    cell: Cell,
    add: Step,
    query: Step,
    ro: bool | None,
    pro: bool | None,
    sent: tuple[str, ...],
    impl: Implementation,
) -> CellRecord:
    columns = cell.columns()
    error = predicted_error(add)
    if add.predicted is None:
        predicted = f"not modelled: {add.why_not}"
    else:
        predicted = f"error: {error}" if error is not None else opened(pro, cell.read_only)
    seen = observed_error(add)
    observed = f"error: {seen}" if seen is not None else opened(ro, cell.read_only)
    agrees = add.agrees and query.agrees
    detail = "\n".join(step.describe() for step in (add, query) if not step.agrees)
    setup = f"# {cell.server} listening on {HOST} ({cell.mode}); then over QMP:"
    return CellRecord("nbd-client", cell_id("nbd-client", columns), impl.name, impl.version, columns,
                      predicted, observed, status_of(agrees), detail, [setup, *sent])  # fmt: skip


def _crashed(impl: Implementation, group: list[Cell], report: str) -> list[CellRecord]:
    return crashed_cells("nbd-client", impl.name, impl.version, [c.columns() for c in group], report)
