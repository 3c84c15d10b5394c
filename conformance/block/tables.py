"""Every truth table on one implementation: the cells as records, or why the tables cannot run there.

Each group of cells (a storage, an NBD server's export) gets its own storage
view, torn down when the group ends whatever happened; a process that dies
turns the group's remaining cells into crash records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.block import chain_table, front_ends, nbd_table, seed_table
from conformance.block.fixture import BLOCK_DIR, BlockFixture, load
from conformance.block.records import CellRecord, crashed_cells
from conformance.block.session import Session
from conformance.block.views import make_view, storage_unavailable
from conformance.containers import relaunched
from conformance.divergences import Divergence
from conformance.implementations import Implementation
from conformance.process import StartError

FAMILIES = ("seed", "front-ends", "chain", "nbd-client")


@dataclass(frozen=True)
class Skipped:
    implementation: str
    family: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"implementation": self.implementation, "family": self.family, "reason": self.reason}


CONTAINER_FAMILIES = ("seed", "chain", "nbd-client")
CONTAINER_NOT_RUN = (
    "the front ends' command lines (-drive, -blockdev, qemu-io) start host processes; "
    "in containers only blockdev-add over QMP is run"
)


def unsupported(impl: Implementation) -> str | None:
    """Why the truth tables do not run on this implementation (None: they do).

    A container runs the file-based families too: the storage view's folder is bind-mounted at
    the same path (read-only for the read-only mount) and its QEMU runs as the view's uid.
    """
    if impl.binary is None or impl.backend not in ("host", "netns", "container"):
        return "the reference is the oracle itself"
    return storage_unavailable()


def seed_group(impl: Implementation, fixture: BlockFixture, kind: str) -> list[CellRecord]:
    cells = list(seed_table.cells(fixture.table, kind))
    with contextlib.ExitStack() as cleanup:
        view = make_view(cleanup, fixture, kind)
        records: list[CellRecord] = []
        try:
            session = Session(view.implementation(impl), view.facts)
        except (StartError, AssertionError, OSError) as err:
            return _crashed("seed", impl, [seed_table.columns(c) for c in cells], str(err))
        try:
            for index, cell in enumerate(cells):
                outcome = seed_table.run_cell(session, cell, index, view.paths)
                records.append(seed_table.record(outcome, impl.name, impl.version))
        except (AssertionError, OSError) as err:
            report = session.instance.crash_report() or str(err)
            records += _crashed("seed", impl, [seed_table.columns(c) for c in cells[len(records) :]], report)
        finally:
            session.close()
        return records


def front_end_group(
    impl: Implementation, fixture: BlockFixture, kind: str, front_end: str
) -> list[CellRecord]:
    with contextlib.ExitStack() as cleanup:
        view = make_view(cleanup, fixture, kind)
        return [
            front_ends.run_cell(impl, view, cell, front_end) for cell in seed_table.cells(fixture.table, kind)
        ]


def chain_cell(impl: Implementation, fixture: BlockFixture, cell: chain_table.Cell) -> CellRecord:
    assert fixture.chain_table is not None
    mid = next(image for image in fixture.images if image["name"] == "mid")
    with contextlib.ExitStack() as cleanup:
        view = make_view(cleanup, fixture, cell.storage)  # fresh images: a commit writes the base
        try:
            session = Session(view.implementation(impl), view.facts)
        except (StartError, AssertionError, OSError) as err:
            return _crashed("chain", impl, [chain_table.columns(cell)], str(err))[0]
        try:
            outcome = chain_table.run_cell(session, cell, view.paths, view.sources, mid["data"])
        except (AssertionError, OSError) as err:
            report = session.instance.crash_report() or str(err)
            return _crashed("chain", impl, [chain_table.columns(cell)], report)[0]
        finally:
            session.close()
        return chain_table.record(outcome, impl.name, impl.version)


NBD_MOUNT = "/run/qconform-nbd"  # where a containerised client sees the NBD server's socket folder


class _ContainerNbdStorage:
    """Host storage facts for a client in a container: its socket path maps back to the host's."""

    def __init__(self, host_folder: str) -> None:
        from conformance.storage import HostStorage

        self._host = HostStorage()
        self._folder = host_folder

    def __getattr__(self, name: str) -> object:
        return getattr(self._host, name)

    def nbd_export(self, socket_path: str, export: str) -> object:
        return self._host.nbd_export(socket_path.replace(NBD_MOUNT, self._folder, 1), export)


def nbd_group(impl: Implementation, server: str, mode: str) -> list[CellRecord]:
    from conformance.nbd.matrix import load_matrix
    from conformance.nbd.runner import running
    from conformance.storage import HostStorage

    matrix = load_matrix()
    table = nbd_table.load_dimensions()
    cells = list(nbd_table.cells(table, server, mode))
    records: list[CellRecord] = []
    with running(matrix.server(server), matrix, mode) as (_process, target):
        socket = str(target.address)
        try:
            if impl.backend == "container":
                folder = str(Path(socket).parent)
                socket = f"{NBD_MOUNT}/{Path(socket).name}"
                storage: Any = _ContainerNbdStorage(folder)
                client = relaunched(impl, mounts={Path(folder): NBD_MOUNT})
                session = Session(client, storage)
            else:
                session = Session(impl, HostStorage())
        except (StartError, AssertionError, OSError) as err:
            return _crashed("nbd-client", impl, [nbd_table.columns(c) for c in cells], str(err))
        try:
            for index, cell in enumerate(cells):
                outcome = nbd_table.run_cell(session, cell, index, socket, matrix.export)
                records.append(nbd_table.record(outcome, impl.name, impl.version))
        except (AssertionError, OSError) as err:
            report = session.instance.crash_report() or str(err)
            records += _crashed(
                "nbd-client", impl, [nbd_table.columns(c) for c in cells[len(records) :]], report
            )
        finally:
            session.close()
    return records


def nbd_servers() -> Iterator[tuple[str, str | None]]:
    """Every unix-socket NBD server of the matrix, with why it is missing (None: present)."""
    from conformance.nbd.matrix import load_matrix
    from conformance.nbd.runner import missing_reason

    for spec in load_matrix().servers:
        if spec.transport == "unix":
            yield spec.name, missing_reason(spec)


def run_tables(
    impl: Implementation, known: dict[tuple[str, str], Divergence], families: tuple[str, ...] = FAMILIES
) -> tuple[list[CellRecord], list[Skipped]]:
    """Every family's cells on `impl`, each explained by a recorded divergence where one applies."""
    reason = unsupported(impl)
    if reason is not None and impl.backend == "container" and "nbd-client" in families:
        # The NBD client family needs only the server's socket folder mapped into the container.
        client_records, client_skipped = _nbd_client_family(impl)
        others = [Skipped(impl.name, family, reason) for family in families if family != "nbd-client"]
        return [r.explain(known) for r in client_records], others + client_skipped
    if reason is not None:
        return [], [Skipped(impl.name, family, reason) for family in families]
    seed, chain = load(), load(BLOCK_DIR / "chain.json")
    records: list[CellRecord] = []
    skipped: list[Skipped] = []
    if impl.backend == "container":
        skipped += [Skipped(impl.name, f, CONTAINER_NOT_RUN) for f in families if f not in CONTAINER_FAMILIES]
        families = tuple(f for f in families if f in CONTAINER_FAMILIES)
    for kind in seed.table["storages"] if "seed" in families else ():
        records += seed_group(impl, seed, kind)
    for kind in seed.table["storages"] if "front-ends" in families else ():
        for front_end in front_ends.front_ends(impl):
            records += front_end_group(impl, seed, kind, front_end)
    if "chain" in families and chain.chain_table is not None:
        records += [chain_cell(impl, chain, cell) for cell in chain_table.cells(chain.chain_table)]
    if "nbd-client" in families:
        nbd_records, nbd_skipped = _nbd_client_family(impl)
        records += nbd_records
        skipped += nbd_skipped
    return [r.explain(known) for r in records], skipped


def _nbd_client_family(impl: Implementation) -> tuple[list[CellRecord], list[Skipped]]:
    table = nbd_table.load_dimensions()
    records: list[CellRecord] = []
    skipped: list[Skipped] = []
    for server, missing in nbd_servers():
        if missing is not None:
            skipped.append(Skipped(impl.name, "nbd-client", f"{server}: {missing}"))
            continue
        for mode in table["modes"]:
            records += nbd_group(impl, server, mode)
    if impl.backend != "container":  # the TCP rows: a host client dialling 127.0.0.1 (containers: no network)
        from conformance.block.nbd_tcp_table import tcp_family

        tcp_records, absent = tcp_family(impl)
        records += tcp_records
        skipped += [Skipped(impl.name, "nbd-client", f"{name}: {why}") for name, why in absent]
    return records, skipped


def _crashed(family: str, impl: Implementation, cells: list[dict[str, str]], report: str) -> list[CellRecord]:
    return crashed_cells(family, impl.name, impl.version, cells, report)
