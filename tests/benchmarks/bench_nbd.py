"""Read throughput of the reference NBD server against nbdkit's memory plugin.

A fair run on this machine: the same client (libnbd) and the same data (a memory export of the
same size that the client first fills with the same seeded bytes, so neither server reads
holes), then 64 KiB reads over a unix socket with several in flight for a fixed time against
each server, the data of a sample checked, and the ratio (target: reference >= 0.5x nbdkit).

    .venv/bin/python tests/benchmarks/bench_nbd.py [--seconds 3] [--depth 8]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from conformance.nbd import libnbd
from conformance.nbd.session import open_socket
from conformance.process import ManagedProcess, install_cleanup_handlers

SIZE = 64 << 20
BLOCK = 64 << 10


def _ready(sock: Path) -> bool:
    try:
        open_socket(sock, 0.5).close()
    except OSError:
        return False
    return True


def _content() -> bytes:
    return random.Random(0x5143).randbytes(SIZE)


def _fill(h: object, data: bytes) -> None:
    """Write the whole export (1 MiB at a time) so every later read returns real data."""
    step = 1 << 20
    for offset in range(0, SIZE, step):
        h.pwrite(data[offset : offset + step], offset)  # type: ignore[attr-defined]
    h.flush()  # type: ignore[attr-defined]


def _throughput(sock: Path, seconds: float, depth: int, data: bytes) -> float:
    nbd = libnbd.load()
    assert nbd is not None, "libnbd's Python binding is needed"
    h = nbd.NBD()
    h.connect_unix(str(sock))
    _fill(h, data)
    check = h.pread(BLOCK, SIZE // 2)
    assert check == data[SIZE // 2 : SIZE // 2 + BLOCK], "the export does not read back as written"
    buffers = [nbd.Buffer(BLOCK) for _ in range(depth)]
    blocks = SIZE // BLOCK
    issued = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        while h.aio_in_flight() < depth:
            h.aio_pread(buffers[issued % depth], (issued * 7919 % blocks) * BLOCK)
            issued += 1
        h.poll(-1)
    while h.aio_in_flight():
        h.poll(-1)
    elapsed = time.perf_counter() - start
    h.shutdown()
    return issued * BLOCK / elapsed / 1e6


def _serve(name: str, argv: list[str], sock: Path) -> ManagedProcess:
    proc = ManagedProcess(argv, name=name, ready=lambda: _ready(sock), lifetime=120)
    proc.start()
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--depth", type=int, default=8, help="reads in flight at once")
    args = parser.parse_args()
    install_cleanup_handlers()
    if shutil.which("nbdkit") is None or libnbd.load() is None:
        print("needs nbdkit and libnbd's Python binding", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="qcf-bench-"))
    rates = {}
    data = _content()
    servers = {
        "reference": [
            sys.executable,
            "-m",
            "conformance.cli",
            "serve",
            "nbd",
            "--socket",
            "{sock}",
            f"memory:{SIZE}",
        ],
        "nbdkit-memory": ["nbdkit", "-f", "--exit-with-parent", "-U", "{sock}", "memory", str(SIZE)],
    }
    for name, template in servers.items():
        sock = folder / f"{name}.sock"
        proc = _serve(name, [a.replace("{sock}", str(sock)) for a in template], sock)
        try:
            rates[name] = _throughput(sock, args.seconds, args.depth, data)
        finally:
            proc.stop()
        print(
            f"{name:14} {rates[name]:8.1f} MB/s  (64 KiB reads, {args.depth} in flight, libnbd, "
            f"one connection, {SIZE >> 20} MiB written first)"
        )
    ratio = rates["reference"] / rates["nbdkit-memory"]
    print(f"reference / nbdkit-memory = {ratio:.2f}x (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
