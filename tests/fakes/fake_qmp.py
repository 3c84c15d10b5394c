#!/usr/bin/env python3
"""A fake QEMU QMP monitor that misbehaves on purpose, for the harness's own tests.

    python fake_qmp.py --socket PATH --mode MODE [--record DIR]

It serves a unix socket and speaks like qemu-storage-daemon 7.2 (greeting,
member order, CRLF, error texts for the few requests it understands) except
where MODE says otherwise. Standard library only: it must run anywhere the
harness runs, without the project installed.

--record DIR writes DIR/<pid>.pid at start and, when SIGTERM or SIGHUP
arrives, DIR/<pid>.term holding the signal's name before dying of it; a
process killed with SIGKILL leaves no .term file. Tests use this to tell an
orderly stop from a PR_SET_PDEATHSIG kill.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

# qemu-storage-daemon 7.2's greeting as the snapshot in
# fixtures/introspection/qsd-7.2.json records it, in QEMU's member order.
GREETING: dict[str, Any] = {
    "QMP": {
        "version": {
            "qemu": {"micro": 22, "minor": 2, "major": 7},
            "package": "Debian 1:7.2+dfsg-7+deb12u18+b3",
        },
        "capabilities": ["oob"],
    }
}
NEGOTIATION_HINT = "Expecting capabilities negotiation with 'qmp_capabilities'"
ALREADY_NEGOTIATED = "Capabilities negotiation is already complete, command ignored"
ABORT_MESSAGE = "qemu: ../monitor/qmp.c:42: monitor_qmp_dispatch: Assertion `x' failed."
SEGV_MESSAGE = "qemu: ../qapi/qmp-dispatch.c:147: qmp_dispatch: Assertion `cmd->fn' failed (then SIGSEGV)"
START_FAILURE = "qemu-storage-daemon: cannot open /dev/fake-device: No such file or directory"

MODES = {
    "good": "a well-behaved 7.2 monitor",
    "hang": "greets, then never answers anything",
    "hang-greeting": "accepts connections, never greets",
    "hang-commands": "greets and negotiates, then never answers",
    "crash": "negotiates; the first command after that: assertion text on stderr, then SIGSEGV",
    "abort": "negotiates; the first command after that: assertion text on stderr, then abort()",
    "abort-exit": "negotiates; the first command after that: assertion text on stderr, then exit(1)",
    "garble": "every answer is non-JSON bytes (the reply's text mangled, its id still readable)",
    "garble-noise": "every answer is pure noise: not JSON, no id",
    "babble": "negotiates; then, instead of answering, writes an event line every 0.1 s forever",
    "twice": "answers every command twice",
    "close-early": "closes each connection right after the greeting (the process stays)",
    "exit-zero": "exits with status 0 on the first command",
    "crash-on-disconnect": "well-behaved, but SIGSEGV when a client disconnects",
    "listen-late": "creates the socket, but listens only 0.5 s later",
    "no-socket": "starts, never creates its socket",
    "exit-at-start": "prints an error and exits with status 3 at once",
}


def render(value: Any) -> bytes:
    """One line as QEMU writes it: compact JSON with ', ' and ': ', CRLF."""
    return json.dumps(value, separators=(", ", ": ")).encode("utf-8") + b"\r\n"


def _with_id(body: dict[str, Any], request: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    # QEMU's QDict order: "return" sorts before "id", "id" before "error".
    if "id" not in request:
        return {key: value}
    if key == "return":
        return {"return": value, "id": request["id"]}
    return {"id": request["id"], key: value}


def _error(cls: str, desc: str) -> dict[str, Any]:
    return {"class": cls, "desc": desc}


def answer(text: bytes, negotiated: bool) -> tuple[dict[str, Any], bool]:
    """QEMU 7.2's reply to one request line, and whether negotiation is now complete."""
    try:
        request = json.loads(text)
    except ValueError:
        return {"error": _error("GenericError", "JSON parse error")}, negotiated
    if not isinstance(request, dict):
        return {"error": _error("GenericError", "QMP input must be a JSON object")}, negotiated
    command = request.get("execute")
    if not isinstance(command, str):
        failure = _error("GenericError", "QMP input lacks member 'execute'")
        return _with_id({}, request, "error", failure), negotiated
    if not negotiated:
        if command == "qmp_capabilities":
            return _with_id({}, request, "return", {}), True
        return _with_id({}, request, "error", _error("CommandNotFound", NEGOTIATION_HINT)), False
    if command == "qmp_capabilities":
        return _with_id({}, request, "error", _error("CommandNotFound", ALREADY_NEGOTIATED)), True
    failure = _error("CommandNotFound", f"The command {command} has not been found")
    return _with_id({}, request, "error", failure), True


def _event_line() -> bytes:
    now = time.time()
    stamp = {"seconds": int(now), "microseconds": int(now * 1e6) % 1000000}
    return render({"timestamp": stamp, "event": "FAKE_BABBLE"})


def _die(message: str, how: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    if how == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
        # Another thread may take the signal; do nothing until it does.
        time.sleep(10)
    elif how == "abort":
        os.abort()
    os._exit(1)


def _serve_connection(conn: socket.socket, mode: str) -> None:
    # A client that leaves mid-answer is normal; it must not put a traceback on stderr.
    with contextlib.suppress(OSError):
        _converse(conn, mode)
    if mode == "crash-on-disconnect":
        _die(SEGV_MESSAGE, "segv")


def _converse(conn: socket.socket, mode: str) -> None:
    with conn:
        if mode == "hang-greeting":
            while conn.recv(65536):
                pass
            return
        conn.sendall(render(GREETING))
        if mode == "close-early":
            conn.shutdown(socket.SHUT_RDWR)
            return
        buffer = b""
        negotiated = False
        while True:
            data = conn.recv(65536)
            if not data:
                break
            buffer += data
            while b"\n" in buffer:
                raw, _, buffer = buffer.partition(b"\n")
                if raw.strip():
                    negotiated = _on_request(conn, mode, raw, negotiated)


def _on_request(conn: socket.socket, mode: str, raw: bytes, negotiated: bool) -> bool:
    """Act on one request line as MODE says; return whether negotiation is complete."""
    if mode == "exit-zero":
        os._exit(0)
    if mode == "hang" or (mode == "hang-commands" and negotiated):
        return negotiated
    if negotiated and mode in ("crash", "abort", "abort-exit"):
        how = {"crash": "segv", "abort": "abort", "abort-exit": "exit"}[mode]
        _die(SEGV_MESSAGE if mode == "crash" else ABORT_MESSAGE, how)
    if negotiated and mode == "babble":
        while True:
            conn.sendall(_event_line())
            time.sleep(0.1)
    reply, negotiated = answer(raw, negotiated)
    line = render(reply)
    if mode == "twice":
        line += line
    elif mode == "garble":
        line = b"\xff\xfe<garbled>" + line[:-3] + b"\x00\r\n"
    elif mode == "garble-noise":
        line = b"\x1b[31m*** \xde\xad\xbe\xef noise ***\x1b[0m\r\n"
    conn.sendall(line)
    return negotiated


def _no_core_dumps() -> None:
    """Crashing on purpose must not litter the working folder with core files."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def _record(folder: Path) -> None:
    pid = os.getpid()
    (folder / f"{pid}.pid").write_text(f"{pid}\n", encoding="utf-8")

    def on_signal(signum: int, frame: object) -> None:
        (folder / f"{pid}.term").write_text(signal.Signals(signum).name, encoding="utf-8")
        signal.signal(signum, signal.SIG_DFL)
        os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)


def _listen(path: Path, mode: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if mode == "listen-late":
        server.bind(str(path))
        time.sleep(0.5)
        server.listen()
        return server
    # Bind and listen under a temporary name, then rename: the socket appears
    # only once it accepts connections, so a harness waiting for the file
    # never races the listen().
    staging = path.with_name(path.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    server.bind(str(staging))
    server.listen()
    staging.rename(path)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--mode", required=True, choices=sorted(MODES))
    parser.add_argument("--record", type=Path, metavar="DIR", help="write DIR/<pid>.pid and DIR/<pid>.term")
    args = parser.parse_args(argv)
    _no_core_dumps()
    if args.record is not None:
        _record(args.record)
    if args.mode == "exit-at-start":
        print(START_FAILURE, file=sys.stderr)
        return 3
    if args.mode == "no-socket":
        print("fake_qmp: not listening, on purpose", file=sys.stderr, flush=True)
        while True:
            time.sleep(60)
    server = _listen(args.socket, args.mode)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve_connection, args=(conn, args.mode), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
