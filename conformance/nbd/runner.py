"""Start a server of the matrix in a mode, run every probe against it, stop it, return the verdicts."""

from __future__ import annotations

import random
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from conformance.nbd import libnbd
from conformance.nbd.libnbd_probes import LIBNBD_PROBES
from conformance.nbd.matrix import Matrix, ProbeSpec, ServerSpec, load_matrix, load_probes
from conformance.nbd.probes import PROBES, Target
from conformance.nbd.session import Address, ProbeError, open_socket
from conformance.nbd.verdicts import Recorder, Result, Verdict
from conformance.process import ManagedProcess

MODES = ("read-only", "writable")


@dataclass
class ServerRun:
    server: str
    mode: str
    results: list[Result] = field(default_factory=list)
    crash: str | None = None

    def by_verdict(self, verdict: Verdict) -> list[Result]:
        return [r for r in self.results if r.verdict is verdict]

    def to_json(self) -> dict[str, object]:
        return {
            "server": self.server,
            "mode": self.mode,
            "crash": self.crash,
            "results": [r.as_dict() for r in self.results],
        }


def missing_reason(spec: ServerSpec) -> str | None:
    if spec.binary == "python" or shutil.which(spec.binary):
        return None
    return f"{spec.binary} not found on PATH"


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


@contextmanager
def running(spec: ServerSpec, matrix: Matrix, mode: str) -> Iterator[tuple[ManagedProcess, Target]]:
    """The server started in `mode` on a private socket (or 127.0.0.1 port); always stopped after."""
    read_only = mode == "read-only"
    with tempfile.TemporaryDirectory(prefix="qcf-nbd-") as tmp:
        folder = Path(tmp)
        original = image_content(matrix.image_size) if spec.backing == "file" else bytes(matrix.image_size)
        image = folder / "disk.raw"
        image.write_bytes(original)
        port = free_port()
        values = {
            "python": sys.executable,
            "socket": str(folder / "nbd.sock"),
            "port": str(port),
            "export": matrix.export,
            "image": str(image),
            "size": str(matrix.image_size),
            "config": str(folder / "server.conf"),
            "pidfile": str(folder / "server.pid"),
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
        process = ManagedProcess(
            argv,
            name=f"{spec.name}-{mode}",
            ready=lambda: _reachable(address),
            start_timeout=15,
            lifetime=300,
        )
        process.start()
        try:
            yield process, Target(spec.name, address, matrix.export, read_only, original)
        finally:
            process.stop()


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
            PROBES[probe.id](target, r)
    except ProbeError as err:
        r.abort(err)
    except OSError as err:
        r.abort(ProbeError(f"socket: {err}"))
    return r.finish()


def run_server(spec: ServerSpec, mode: str, matrix: Matrix | None = None) -> ServerRun:
    matrix = matrix or load_matrix()
    run = ServerRun(spec.name, mode)
    with running(spec, matrix, mode) as (process, target):
        for probe in load_probes():
            if mode not in probe.modes:
                continue
            run.results.extend(run_probe(probe, target))
            if not process.alive():
                run.crash = process.crash_report() or f"{spec.name} exited: {process.stderr_tail()}"
                break
    return run
