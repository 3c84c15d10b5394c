"""Start a server of the matrix in a mode, run every probe against it, stop it, return the verdicts."""

from __future__ import annotations

import random
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from conformance.containers import MOUNT
from conformance.nbd import libnbd
from conformance.nbd.backends import describe, recipe
from conformance.nbd.backends import missing_reason as missing_reason
from conformance.nbd.known import explain, load_known
from conformance.nbd.libnbd_probes import LIBNBD_PROBES
from conformance.nbd.matrix import Matrix, ProbeSpec, ServerSpec, load_matrix, load_probes
from conformance.nbd.probes import PROBES, Target
from conformance.nbd.probes_tx import TX_PROBES
from conformance.nbd.session import Address, ProbeError, open_socket
from conformance.nbd.verdicts import Recorder, Result, Verdict
from conformance.process import ManagedProcess

MODES = ("read-only", "writable")
ALL_PROBES = {**PROBES, **TX_PROBES}


@dataclass
class ServerRun:
    server: str
    mode: str
    results: list[Result] = field(default_factory=list)
    crash: str | None = None
    where: dict[str, str | None] = field(default_factory=dict)  # backend, image, suite, version

    def by_verdict(self, verdict: Verdict) -> list[Result]:
        return [r for r in self.results if r.verdict is verdict]

    def to_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "mode": self.mode,
            **self.where,
            "crash": self.crash,
            "results": [r.as_dict() for r in self.results],
        }


def image_content(size: int) -> bytes:
    """Known data in the first half (seeded), zeroes in the second: block status has both to report."""
    half = size // 2
    return random.Random(0x5143).randbytes(half) + bytes(size - half)


def free_port() -> int:
    # Only a hint (another process may take it before the server binds); good enough on loopback.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable(address: Address) -> bool:
    try:
        open_socket(address, 0.5).close()
    except OSError:
        return False
    return True


class Server(Protocol):
    """What the runner needs of a started server: a host process or a container."""

    def alive(self) -> bool: ...
    def crash_report(self) -> str | None: ...
    def stderr_tail(self, limit: int = 2000) -> str: ...
    def stop(self) -> None: ...


@contextmanager
def running(spec: ServerSpec, matrix: Matrix, mode: str) -> Iterator[tuple[Server, Target]]:
    """The server started in `mode` on a private socket (or 127.0.0.1 port); always stopped after.

    In a container the folder is bind-mounted at MOUNT: the server sees its files there and the
    probe client reaches the socket through the host's side of the mount."""
    read_only = mode == "read-only"
    with tempfile.TemporaryDirectory(prefix="qcf-nbd-") as tmp:
        folder = Path(tmp)
        original = image_content(matrix.image_size) if spec.backing == "file" else bytes(matrix.image_size)
        image = folder / "disk.raw"
        image.write_bytes(original)
        port = free_port()
        inside = folder if spec.suite is None else Path(MOUNT)
        values = {
            "python": sys.executable,
            "socket": str(inside / "nbd.sock"),
            "port": str(port),
            "export": matrix.export,
            "image": str(inside / "disk.raw"),
            "size": str(matrix.image_size),
            "config": str(inside / "server.conf"),
            "pidfile": str(inside / "server.pid"),
            "read-only-bool": "true" if read_only else "false",
        }
        if spec.config is not None:
            lines = [_fill(line, values) for line in spec.config]
            (folder / "server.conf").write_text("\n".join(lines) + "\n")
        argv: list[str] = []
        for arg in spec.argv:
            if arg == "{read-only}":
                argv.extend(spec.read_only_args if read_only else ())
            else:
                argv.append(_fill(arg, values))
        address: Address = ("127.0.0.1", port) if spec.transport == "tcp" else folder / "nbd.sock"
        process = _start(spec, mode, argv, folder, lambda: _reachable(address))
        try:
            yield process, Target(spec.name, address, matrix.export, read_only, original)
        finally:
            process.stop()


def _start(spec: ServerSpec, mode: str, argv: list[str], folder: Path, ready: Callable[[], bool]) -> Server:
    built = recipe(spec)
    if built is None:
        name = f"{spec.name}-{mode}"
        process = ManagedProcess(argv, name=name, ready=ready, start_timeout=15, lifetime=300)
        process.start()
        return process
    from conformance.containers import Container

    return Container(f"{spec.name}-{mode}", built.tag, argv, ready, folder=folder, lifetime=300)


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def run_probe(probe: ProbeSpec, target: Target) -> list[Result]:
    r = Recorder(probe.id, probe.clauses)
    try:
        if probe.client == "libnbd":
            module = libnbd.load()
            if module is None:
                for clause_id in probe.clauses:
                    r.na(clause_id, "libnbd's Python binding is not installed")
                return r.results
            try:
                LIBNBD_PROBES[probe.id](module, target, r)
            except module.Error as err:
                r.abort(ProbeError(f"libnbd: {err.string}"))
        else:
            ALL_PROBES[probe.id](target, r)
    except ProbeError as err:
        r.abort(err)
    except OSError as err:
        r.abort(ProbeError(f"socket: {err}"))
    return r.finish()


def run_server(spec: ServerSpec, mode: str, matrix: Matrix | None = None) -> ServerRun:
    matrix = matrix or load_matrix()
    run = ServerRun(spec.name, mode, where=describe(spec))
    known = load_known()
    with running(spec, matrix, mode) as (process, target):
        for probe in load_probes():
            if mode not in probe.modes:
                continue
            for result in run_probe(probe, target):
                finding = explain(known, spec.name, mode, result.probe, result.clause)
                if finding is not None and result.verdict in (Verdict.FAIL, Verdict.WARN):
                    result = replace(result, known=finding.note())
                run.results.append(result)
            if not process.alive():
                run.crash = process.crash_report() or f"{spec.name} exited: {process.stderr_tail()}"
                break
    return run
