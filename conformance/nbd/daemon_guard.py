"""Keep a self-daemonizing server (nbd-server) under a managed process.

nbd-server only serves clients concurrently when it daemonizes (its -d mode serves one client
at a time and exits after a failed negotiation), so the harness runs this guard instead: it
starts the server, follows it through its pid file, and kills its process group when told to
stop, when the harness dies (PDEATHSIG SIGTERM) or when its lifetime is over.

    python -m conformance.nbd.daemon_guard PIDFILE LIFETIME -- ARGV...
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_stop = False


def _on_signal(signum: int, frame: object) -> None:
    global _stop
    _stop = True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of init still answers kill(0); its state says it is gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def _kill(pid: int) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)  # the daemon leads its own session: its group holds its children
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
        deadline = time.monotonic() + 2.0
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def main(argv: list[str]) -> int:
    pidfile, lifetime, sep, *command = argv
    if sep != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG: catchable, so we clean up
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    deadline = time.monotonic() + float(lifetime)
    code = subprocess.call(command)
    if code != 0:
        return code
    pid = 0
    while not pid and time.monotonic() < deadline and not _stop:
        with contextlib.suppress(OSError, ValueError):
            pid = int(Path(pidfile).read_text().strip())
        time.sleep(0.01)
    if not pid:
        print(f"no pid in {pidfile}", file=sys.stderr)
        return 1
    try:
        while not _stop and time.monotonic() < deadline:
            if not _alive(pid):
                print(f"daemon {pid} exited", file=sys.stderr)
                return 1
            time.sleep(0.05)
    finally:
        _kill(pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
