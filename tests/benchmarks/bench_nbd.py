"""Read throughput of the reference NBD server against nbdkit's memory plugin.

One run on this machine: the same client (libnbd), 64 KiB reads over a unix socket for a fixed
time against each server, then the ratio (target: reference >= 0.5x nbdkit).

    .venv/bin/python tests/benchmarks/bench_nbd.py [--seconds 3]
"""

from __future__ import annotations

import argparse
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


def _throughput(sock: Path, seconds: float) -> float:
    nbd = libnbd.load()
    assert nbd is not None, "libnbd's Python binding is needed"
    h = nbd.NBD()
    h.connect_unix(str(sock))
    buf = nbd.Buffer(BLOCK)
    offsets = range(0, SIZE, BLOCK)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for offset in offsets[:256]:
            h.aio_pread(buf, offset)
            while h.aio_in_flight():
                h.poll(-1)
            done += BLOCK
    elapsed = time.perf_counter() - start
    h.shutdown()
    return done / elapsed / 1e6


def _serve(name: str, argv: list[str], sock: Path) -> ManagedProcess:
    proc = ManagedProcess(argv, name=name, ready=lambda: _ready(sock), lifetime=120)
    proc.start()
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    install_cleanup_handlers()
    if shutil.which("nbdkit") is None or libnbd.load() is None:
        print("needs nbdkit and libnbd's Python binding", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="qcf-bench-"))
    rates = {}
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
            rates[name] = _throughput(sock, args.seconds)
        finally:
            proc.stop()
        print(f"{name:14} {rates[name]:8.1f} MB/s  (64 KiB reads, libnbd, one connection)")
    ratio = rates["reference"] / rates["nbdkit-memory"]
    print(f"reference / nbdkit-memory = {ratio:.2f}x (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
