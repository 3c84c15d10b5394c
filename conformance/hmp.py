"""A qemu-system process driven over QMP, for HMP commands (`human-monitor-command`).

The machine is created stopped (-S) with no default devices and no network:
devices and objects come from the caller's arguments, which may name files in
the session's private folder as "{dir}". The process is a ManagedProcess (own
session, dies with us, lifetime limit, crash check) and the folder is removed
on stop.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


class HmpSession:
    def __init__(self, binary: str, machine: str, args: Sequence[str], name: str = "qemu-system-hmp") -> None:
        self.folder = socket_dir()
        socket = self.folder / "qmp.sock"
        argv = [
            binary, "-machine", machine, "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-qmp", f"unix:{socket},server=on,wait=off",
            *(arg.replace("{dir}", str(self.folder)) for arg in args),
        ]  # fmt: skip
        self.process = ManagedProcess(argv, name=name, ready=socket.exists, lifetime=LIFETIME)
        self._stream: RawQmpStream | None = None
        try:
            self.process.start()
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
