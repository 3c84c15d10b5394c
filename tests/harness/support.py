"""Fake implementations for the harness's own tests, and checks that nothing outlives them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from conformance.implementations import Implementation, Instance, ProcessInstance
from conformance.process import ManagedProcess, live_processes, socket_dir
from reference.profiles import Flavour, get_profile

REPO = Path(__file__).resolve().parent.parent.parent
FAKE = REPO / "tests" / "fakes" / "fake_qmp.py"
FAKE_VERSION = "7.2.22"


def fake_argv(mode: str, *extra: str) -> Callable[[Path], list[str]]:
    """argv for a fake on socket `sock`, shaped like conformance.implementations.qsd_argv."""

    def argv(sock: Path) -> list[str]:
        return [sys.executable, str(FAKE), "--socket", str(sock), "--mode", mode, *extra]

    return argv


@dataclass(frozen=True)
class Pid:
    """A process as seen in /proc: its pid and start time, so a reused pid is not mistaken for it."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> Pid:
        ticks = _start_ticks(pid)
        assert ticks is not None, f"process {pid} is not running"
        return cls(pid, ticks)

    def alive(self) -> bool:
        """Running (a zombie or a new process under the same pid does not count)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return _start_ticks(self.pid) == self.start_ticks


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat, or None if the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, *rest = stat.rsplit(")", 1)[1].split()
    if state in ("Z", "X", "x"):
        return None
    return int(rest[18])


def wait_gone(pids: Iterable[Pid], timeout: float) -> list[Pid]:
    """Poll until every process has gone; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while True:
        left = [p for p in left if p.alive()]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class FakeFarm:
    """Builds fake implementations and remembers every process they start."""

    def __init__(self) -> None:
        self.instances: list[ProcessInstance] = []
        self.processes: list[ManagedProcess] = []
        self.pids: list[Pid] = []
        self.socket_dirs: list[Path] = []

    def implementation(self, mode: str, read_timeout: float = 1.0) -> Implementation:
        def launch() -> Instance:
            instance = ProcessInstance(f"fake-{mode}", fake_argv(mode), read_timeout)
            self.adopt(instance.process)
            self.instances.append(instance)
            return instance

        return Implementation(
            name=f"fake-{mode}",
            flavour=Flavour.STORAGE_DAEMON,
            profile=get_profile("7.2"),
            version=FAKE_VERSION,
            backend="host",
            launch=launch,
            binary=str(FAKE),
            exact_identity=False,
        )

    def socket(self) -> Path:
        """A fresh short socket path (unix socket paths must stay under 108 bytes)."""
        folder = socket_dir()
        self.socket_dirs.append(folder)
        return folder / "qmp.sock"

    def adopt(self, process: ManagedProcess) -> None:
        """Track a started process (before it can have died: its /proc entry is read now)."""
        self.processes.append(process)
        self.pids.append(Pid.of(process.pid))

    def registered(self) -> list[ManagedProcess]:
        """Our processes that the harness still counts as live."""
        return [p for p in live_processes() if any(p is ours for ours in self.processes)]

    def leftovers(self, timeout: float = 5.0) -> list[str]:
        """What is still running, or still registered with the harness, after `timeout`."""
        alive = wait_gone(self.pids, timeout)
        wait_for(lambda: not self.registered(), max(0.0, timeout))
        return [f"pid {p.pid} still running" for p in alive] + [
            f"{p.name} (pid {p.pid}) still in live_processes()" for p in self.registered()
        ]

    def stop_all(self) -> None:
        """Last-resort cleanup (by pid, only ours) so a failing test leaves nothing behind."""
        for instance in self.instances:
            instance.stop()
        for process in self.processes:
            process.stop(grace=1.0)
        for folder in self.socket_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def kill_if_alive(pids: Iterable[Pid]) -> None:
    """SIGKILL each of these processes (by pid, after checking it is still the same process)."""
    for pid in pids:
        if pid.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid.pid, signal.SIGKILL)
