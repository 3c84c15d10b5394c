"""Processes under test: started with a deadline, watched for crashes, always reaped.

Every child is put in its own session (so a Ctrl-C to the test run does not
kill it before we can read its state), gets SIGKILL when the process that
started it dies (PR_SET_PDEATHSIG, so a killed xdist worker leaves nothing
behind), and is killed at exit and by a watchdog once its lifetime is over.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
ABORT_MARKERS = ("Assertion", "assertion", "Aborted", "Segmentation fault", "core dumped", "panic")

_live: set[ManagedProcess] = set()
# Re-entrant: the SIGTERM handler may run while the main thread holds it.
_live_lock = threading.RLock()
# Resolved once here: the child between fork and exec must not load libraries.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class Exit:
    """How a process ended: an exit code or the signal that killed it."""

    code: int | None
    signal: int | None

    @classmethod
    def from_returncode(cls, returncode: int) -> Exit:
        if returncode < 0:
            return cls(None, -returncode)
        return cls(returncode, None)

    @property
    def crashed(self) -> bool:
        return self.signal is not None and self.signal not in (signal.SIGTERM, signal.SIGKILL)

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {signal.Signals(self.signal).name}"
        return f"exited with status {self.code}"


class StartError(RuntimeError):
    pass


class ManagedProcess:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        ready: Callable[[], bool],
        start_timeout: float = 10.0,
        lifetime: float = 1800.0,
        env: dict[str, str] | None = None,
        capture_stdout: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self._ready = ready
        self.start_timeout = start_timeout
        self.lifetime = lifetime
        self._env = env
        # Kept open for the process's life: stderr is read after it dies.
        self._stderr_file = tempfile.TemporaryFile(prefix=f"qconform-{name}-")  # noqa: SIM115
        # HMP qemu-io reports on stdout: kept when asked for, read while the process runs
        self._stdout_file = tempfile.TemporaryFile(prefix=f"qconform-{name}-out-") if capture_stdout else None  # noqa: SIM115
        self._popen: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout_file or subprocess.DEVNULL,
            stderr=self._stderr_file,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=self._env,
        )
        with _live_lock:
            _live.add(self)
        _ensure_watchdog()
        deadline = self.started_at + self.start_timeout
        while time.monotonic() < deadline:
            if self.poll() is not None:
                self.stop()
                raise StartError(
                    f"{self.name} {self.exit_status().describe()} at start: {self.stderr_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.005)
        self.stop()
        raise StartError(f"{self.name} not ready after {self.start_timeout:g}s: {self.stderr_tail()}")

    @property
    def pid(self) -> int:
        assert self._popen is not None
        return self._popen.pid

    def poll(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout: float) -> Exit | None:
        assert self._popen is not None
        try:
            return Exit.from_returncode(self._popen.wait(timeout))
        except subprocess.TimeoutExpired:
            return None

    def exit_status(self) -> Exit:
        code = self.poll()
        assert code is not None, "process still running"
        return Exit.from_returncode(code)

    def stdout_from(self, start: int) -> bytes:
        """What the process wrote to stdout from byte `start` on (b"" when not captured)."""
        if self._stdout_file is None:
            return b""
        self._stdout_file.seek(start)
        return self._stdout_file.read()

    def stderr_tail(self, limit: int = 2000) -> str:
        self._stderr_file.seek(0)
        text = self._stderr_file.read().decode("utf-8", "replace")
        return " | ".join(text.strip().splitlines())[-limit:] or "(no stderr)"

    def crash_report(self) -> str | None:
        """Why the process died abnormally, or None if it did not."""
        if self.alive() or self._popen is None:
            return None
        status = self.exit_status()
        stderr = self.stderr_tail()
        if status.crashed or any(marker in stderr for marker in ABORT_MARKERS):
            return f"{self.name} {status.describe()}: {stderr}"
        return None

    def stop(self, grace: float = 3.0) -> None:
        """Terminate the process group, kill it if it lingers; idempotent."""
        popen = self._popen
        if popen is not None and popen.poll() is None:
            _signal_group(popen.pid, signal.SIGTERM)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait(grace)
            else:
                # Children it left in its group go too; the group id is still ours
                # because the leader was reaped only just now, by us.
                _signal_group(popen.pid, signal.SIGKILL)
        with _live_lock:
            _live.discard(self)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


_cleanups: list[Callable[[], None]] = []


def register_cleanup(callback: Callable[[], None]) -> None:
    """Run `callback` wherever stop_all() runs (other backends' own reaping)."""
    with _live_lock:
        if callback not in _cleanups:
            _cleanups.append(callback)


def stop_all() -> None:
    with _live_lock:
        victims = list(_live)
        callbacks = list(_cleanups)
    for proc in victims:
        proc.stop(grace=1.0)
    for callback in callbacks:
        callback()


def live_processes() -> list[ManagedProcess]:
    with _live_lock:
        return list(_live)


_watchdog: threading.Thread | None = None


def _watch() -> None:
    while True:
        time.sleep(1.0)
        now = time.monotonic()
        for proc in live_processes():
            if proc.alive() and now - proc.started_at > proc.lifetime:
                proc.stop(grace=1.0)


def _ensure_watchdog() -> None:
    global _watchdog
    if _watchdog is None:
        _watchdog = threading.Thread(target=_watch, name="qconform-watchdog", daemon=True)
        _watchdog.start()


def _on_terminate(signum: int, frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


def install_cleanup_handlers() -> None:
    """Reap children at exit and on SIGTERM/SIGHUP (SIGINT raises KeyboardInterrupt, then exit runs)."""
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) in (signal.SIG_DFL, None):
                signal.signal(signum, _on_terminate)


def socket_dir() -> Path:
    """A private folder for unix sockets (paths must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="qcf-"))
