"""`qconform serve nbd` as a process: arguments, several clients at once, loopback only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.nbd.runner import free_port
from conformance.nbd.session import Session
from conformance.process import ManagedProcess
from reference.nbd import constants as c

pytestmark = pytest.mark.slow


def _serve(args: list[str], ready_address: Path | tuple[str, int]) -> ManagedProcess:
    def ready() -> bool:
        try:
            Session(ready_address, timeout=0.5).close()
        except OSError:
            return False
        return True

    proc = ManagedProcess(
        [sys.executable, "-m", "conformance.cli", "serve", "nbd", *args],
        name="serve-nbd",
        ready=ready,
        lifetime=60,
    )
    proc.start()
    return proc


def test_tcp_memory_export_several_clients(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(["--port", str(port), "--export", "x", "memory:1M"], ("127.0.0.1", port))
    try:
        first, second = Session(("127.0.0.1", port)), Session(("127.0.0.1", port))
        for s in (first, second):
            s.handshake()
            s.go("x")
            assert s.size == 1 << 20 and not s.flags & c.FLAG_READ_ONLY
        assert first.command(c.CMD_WRITE, 0, 4, payload=b"qcfm").error == 0
        assert second.command(c.CMD_READ, 0, 4).data == b"qcfm"
        first.close()
        second.close()
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            local = [line.split()[3] for line in out.stdout.splitlines()]
            assert local == [f"127.0.0.1:{port}"]
    finally:
        proc.stop()


def test_read_only_file_export(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\x42" * 65536)
    sock = tmp_path / "nbd.sock"
    proc = _serve(["--socket", str(sock), "--read-only", str(image)], sock)
    try:
        with Session(sock) as s:
            s.handshake()
            s.go("")
            assert s.flags & c.FLAG_READ_ONLY
            assert s.command(c.CMD_WRITE, 0, 4, payload=b"oops").error == c.EPERM
        assert image.read_bytes() == b"\x42" * 65536
    finally:
        proc.stop()
    assert not sock.exists()


def test_bad_arguments() -> None:
    cli = [sys.executable, "-m", "conformance.cli", "serve", "nbd"]
    done = subprocess.run([*cli, "--port", "1", "memory:lots"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "memory:SIZE" in done.stderr
    done = subprocess.run([*cli, "memory:1M"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
