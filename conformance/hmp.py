"""A qemu-system process driven over QMP, for HMP commands (`human-monitor-command`).

The machine is created stopped (-S) with no default devices and no network:
devices and objects come from the caller's arguments, which may name files in
the session's private folder as "{dir}". On the host the process is a
ManagedProcess (own session, dies with us, lifetime limit, crash check); for a
SystemTarget with an image it runs in a container (conformance.containers:
--network none, the folder bind-mounted, under timeout, orphans reaped). The
folder is removed on stop.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from conformance.errors import QconformError
from conformance.implementations import SETTLE_SECONDS
from conformance.process import ManagedProcess, socket_dir
from conformance.transport import RawQmpStream

PROGRAM = "qemu-system-x86_64"
LIFETIME = 60.0
READ_TIMEOUT = 10.0


class QmpFailure(QconformError):
    """A command answered with an error, or the monitor broke off."""


def find_qemu_system() -> str | None:
    return shutil.which(PROGRAM)


@dataclass(frozen=True)
class SystemTarget:
    """A qemu-system-x86_64 to drive: a host binary, or the program inside a container image."""

    name: str  # the implementation's name: qemu-system, qemu-system@trixie
    program: str  # a host path, or the program's name inside the image
    version: tuple[int, int]
    image: str | None = None

    @property
    def profile_name(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


SYSTEM_NAMES = ("qemu-system", "qemu-system@bookworm", "qemu-system@trixie", "qemu-system@sid")


@functools.cache
def system_target(name: str) -> SystemTarget | str:
    """The qemu-system implementation of that name (host or container), or why it is missing."""
    from conformance.implementations import discover

    found, missing = discover()
    for impl in found:
        if impl.name == name and impl.binary is not None:
            program = impl.binary if impl.image is None else PROGRAM
            return SystemTarget(name, program, (impl.profile.major, impl.profile.minor), impl.image)
    return next((m.reason for m in missing if m.name == name), f"{name} is not known")


class Running(Protocol):
    name: str

    def alive(self) -> bool: ...
    def crash_report(self) -> str | None: ...
    def stderr_tail(self, limit: int = 2000) -> str: ...
    def stop(self) -> None: ...


def _start(target: SystemTarget, inner: list[str], folder: Path, name: str) -> Running:
    """qemu-system with argv `inner` (the folder seen as "{dir}"), up once its QMP socket exists."""
    socket = folder / "qmp.sock"
    if target.image is None:
        process = ManagedProcess(
            [arg.replace("{dir}", str(folder)) for arg in inner],
            name=name,
            ready=socket.exists,
            lifetime=LIFETIME,
        )
        try:
            process.start()
        except BaseException:
            process.stop()
            raise
        return process
    from conformance.containers import MOUNT, Container

    argv = [arg.replace("{dir}", MOUNT) for arg in inner]
    return Container(name, target.image, argv, socket.exists, folder=folder, lifetime=int(LIFETIME))


class HmpSession:
    def __init__(
        self, binary: str | SystemTarget, machine: str, args: Sequence[str], name: str = "qemu-system-hmp"
    ) -> None:
        target = binary if isinstance(binary, SystemTarget) else SystemTarget(name, binary, (0, 0))
        self.folder = socket_dir()
        socket = self.folder / "qmp.sock"
        inner = [
            target.program, "-machine", machine, "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-qmp", "unix:{dir}/qmp.sock,server=on,wait=off", *args,
        ]  # fmt: skip
        try:
            self.process = _start(target, inner, self.folder, name)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._stream: RawQmpStream | None = None
        try:
            time.sleep(SETTLE_SECONDS)  # QEMU 7.2 finishes its monitor's set-up after listening
            try:
                self._stream = RawQmpStream.connect_when_listening(socket, READ_TIMEOUT, self.process.alive)
            except OSError as err:
                time.sleep(0.1)  # let a dying QEMU finish writing why
                raise QmpFailure(f"{name}: cannot connect ({err}): {self.process.stderr_tail()}") from None
            self._read_message()  # the greeting
            self.execute("qmp_capabilities")
        except BaseException:
            self.stop()
            raise

    def _read_message(self) -> dict[str, Any]:
        assert self._stream is not None
        while True:
            line = self._stream.read_line()
            if line is None:
                raise QmpFailure(f"{self.process.name} closed the monitor: {self.process.stderr_tail()}")
            message = json.loads(line)
            if "event" not in message:
                return dict(message)

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """The command's return value; QmpFailure with QEMU's message if it fails."""
        assert self._stream is not None
        request: dict[str, Any] = {"execute": command}
        if arguments is not None:
            request["arguments"] = arguments
        self._stream.send(json.dumps(request).encode("utf-8") + b"\n")
        reply = self._read_message()
        if "error" in reply:
            raise QmpFailure(f"{command}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def hmp(self, command_line: str) -> list[str]:
        """An HMP command's output, as lines without their terminators."""
        text = self.execute("human-monitor-command", {"command-line": command_line})
        return str(text).replace("\r\n", "\n").split("\n")

    def crash_report(self) -> str | None:
        return self.process.crash_report()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self.process.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)

    @property
    def path(self) -> Path:
        return self.folder

    def __enter__(self) -> HmpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
