"""A QEMU started with block options on its command line, its QMP monitor as usual.

The process may refuse an option and exit: then what counts is its exit
status and its stderr. It is a ManagedProcess like every other (deadline,
crash check, reaping), run as an unprivileged uid through setpriv when the
storage asks for it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.containers import ContainerInstance
from conformance.implementations import (
    READ_TIMEOUT,
    Implementation,
    ProcessInstance,
    netns_prefix,
    qemu_system_argv,
    qsd_argv,
    settle,
)
from conformance.process import ManagedProcess, StartError
from reference.profiles import Flavour

EXIT_WAIT = 10.0  # a refused option ends QEMU at once; this is only a safety net


@dataclass(frozen=True)
class Exited:
    code: int | None  # None: killed by a signal
    stderr: str  # lines joined with " | "
    crash: str | None


class CommandLineInstance(ProcessInstance):
    def __init__(self, process: ManagedProcess, socket: Path) -> None:
        self.socket = socket
        self.read_timeout = READ_TIMEOUT
        self.process = process
        settle(self)

    def exited(self) -> Exited | None:
        """How the process ended, waiting a little for it (None: still running)."""
        if self.process.wait(EXIT_WAIT) is None:
            return None
        return _ended(self.process)


def argv_for(impl: Implementation, socket: Path, extra: list[str], uid: int | None) -> list[str]:
    assert impl.binary is not None
    base = qsd_argv if impl.flavour is Flavour.STORAGE_DAEMON else qemu_system_argv
    wrapper = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return [*netns_prefix(), *wrapper, *base(impl.binary)(socket), *extra]


def start(impl: Implementation, extra: list[str], uid: int | None) -> CommandLineInstance | Exited:
    """The running process, or how it ended before its monitor listened."""
    sock_dir = Path(tempfile.mkdtemp(prefix="qcf-"))
    if uid is not None:
        os.chown(sock_dir, uid, uid)  # QEMU creates its socket here as that uid
    socket = sock_dir / "qmp.sock"
    process = ManagedProcess(
        argv_for(impl, socket, extra, uid),
        name=f"{impl.name}-cmdline",
        ready=socket.exists,
        capture_stdout=True,  # HMP qemu-io's reports (conformance/block/session.py)
    )
    try:
        process.start()
    except StartError:  # start() stopped and reaped it already
        socket.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            sock_dir.rmdir()
        return _ended(process)
    return CommandLineInstance(process, socket)


def _ended(process: ManagedProcess) -> Exited:
    status = process.exit_status()
    return Exited(status.code, process.stderr_tail(), process.crash_report())


class ContainerCommandLine(ContainerInstance):
    """FAMILY@SUITE started with block options; the container's state says how it ended."""

    def exited(self) -> Exited | None:
        """As CommandLineInstance.exited (None: still running after EXIT_WAIT)."""
        deadline = time.monotonic() + EXIT_WAIT
        while self.alive():
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        try:
            code = self._state().get("ExitCode")
        except Exception:  # the container is gone (removed by a cleanup)
            code = None
        return Exited(code if isinstance(code, int) else None, self.stderr_tail(), self.crash_report())


def start_in_container(
    impl: Implementation,
    extra: list[str],
    uid: int | None,
    mounts: dict[Path, str],
    read_only_mounts: dict[Path, str],
) -> ContainerCommandLine | Exited:
    """FAMILY@SUITE (binary IMAGE:TAG:PROGRAM) started with extra options, the host folders in
    mounts seen inside at the paths given; or how it ended before its monitor listened (the
    container is removed then, so its exit status is lost: code None, its output kept)."""
    assert impl.backend == "container" and impl.binary is not None
    image, program = impl.binary.rsplit(":", 1)
    base = qsd_argv if impl.flavour is Flavour.STORAGE_DAEMON else qemu_system_argv
    try:
        started = ContainerCommandLine(
            impl.name, image, lambda socket: [*base(program)(socket), *extra], READ_TIMEOUT,
            mounts, read_only_mounts=read_only_mounts, user=uid,
        )  # fmt: skip
    except StartError as err:
        return Exited(None, str(err), None)
    if started.alive():
        return started
    ended = started.exited()  # its socket appeared, then an option made it exit
    started.stop()
    assert ended is not None
    return ended
