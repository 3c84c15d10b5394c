"""Nothing outlives the harness: not a SIGINT/SIGTERM/SIGHUP to the run, not a SIGKILLed worker,
not an implementation past its lifetime, not one that fails to start.

The fakes run with --record DIR: DIR/<pid>.pid appears when one starts, and
DIR/<pid>.term (holding the signal's name) when SIGTERM or SIGHUP stops it. A
fake killed with SIGKILL (PR_SET_PDEATHSIG) leaves no .term file, so each test
also tells which mechanism did the cleaning.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.process import Exit, ManagedProcess, StartError
from harness.support import FAKE, FakeFarm, Pid, fake_argv, kill_if_alive, wait_for, wait_gone

pytestmark = pytest.mark.slow

QCONFORM = Path(sys.executable).parent / "qconform"

# Starts COUNT hanging fakes through the harness API, prints [[pid, socket folder], ...], sleeps.
DRIVER = """\
import json, signal, sys, time
from conformance.process import ManagedProcess, install_cleanup_handlers, socket_dir

fake, count, record = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# The handlers are installed only over SIG_DFL: start from it even if the test run ignores SIGHUP.
for signum in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, signal.SIG_DFL)
install_cleanup_handlers()
started = []
for index in range(count):
    sock = socket_dir() / "qmp.sock"
    argv = [sys.executable, fake, "--socket", str(sock), "--mode", "hang", "--record", record]
    proc = ManagedProcess(argv, name=f"fake-{index}", ready=sock.exists)
    proc.start()
    started.append([proc.pid, str(sock.parent)])
print(json.dumps(started), flush=True)
while True:
    time.sleep(60)
"""

# A qemu-storage-daemon look-alike for --impl-path: answers --version, else runs the fake
# (in the same process, so the harness's pid is the fake's) on the --chardev socket.
WRAPPER = """\
#!{python}
import os, sys
if "--version" in sys.argv:
    print("qemu-storage-daemon version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
    sys.exit(0)
chardev = sys.argv[sys.argv.index("--chardev") + 1]
options = dict(item.split("=", 1) for item in chardev.split(",")[1:])
fake = [{fake!r}, "--socket", options["path"], "--mode", "hang-commands", "--record", {record!r}]
os.execv(sys.executable, [sys.executable, *fake])
"""

HANG_CASES = {
    "group": "harness",
    "cases": [
        {
            "id": "harness-unanswered",
            "description": "The fake negotiates, then never answers this.",
            "send": '{"execute": "no-such-command", "id": 1}\n',
            "expect": "predict",
        }
    ],
}


@dataclass
class Driver:
    process: subprocess.Popen[str]
    fakes: list[Pid]
    socket_dirs: list[Path]
    record: Path

    def terms(self) -> dict[int, str]:
        """pid -> the signal each fake reported dying of (SIGTERM/SIGHUP only)."""
        return {int(p.stem): p.read_text(encoding="utf-8") for p in self.record.glob("*.term")}


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


def _default_sigint() -> None:
    # A run started in the background inherits SIGINT ignored; these tests are about a Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    record = tmp_path / "record"
    record.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(script), str(FAKE), "3", str(record)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    fakes: list[Pid] = []
    dirs: list[Path] = []
    try:
        line = _read_line(process, 20.0)
        if not line:
            process.kill()
            pytest.fail(f"driver printed no pids: {process.communicate(timeout=5)[1]}")
        for pid, folder in json.loads(line):
            fakes.append(Pid.of(pid))
            dirs.append(Path(folder))
        yield Driver(process, fakes, dirs, record)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
        kill_if_alive(fakes)
        for folder in dirs:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_to_the_run_stops_every_fake(driver: Driver, signum: signal.Signals) -> None:
    assert all(pid.alive() for pid in driver.fakes)
    os.kill(driver.process.pid, signum)
    code = driver.process.wait(30)  # generous: a loaded CI machine is slow to schedule the handlers
    # SIGINT: KeyboardInterrupt, then the atexit handler; SIGTERM/SIGHUP: the signal handler.
    assert code == (-signal.SIGINT if signum == signal.SIGINT else 128 + signum)
    assert wait_gone(driver.fakes, 5.0) == []
    # Stopped by the harness (SIGTERM to each process group), not merely by PR_SET_PDEATHSIG.
    assert driver.terms() == {pid.pid: "SIGTERM" for pid in driver.fakes}


def test_killed_worker_takes_its_fakes_along(driver: Driver) -> None:
    """A SIGKILLed worker runs no handler at all; PR_SET_PDEATHSIG kills its children."""
    os.kill(driver.process.pid, signal.SIGKILL)
    assert driver.process.wait(10) == -signal.SIGKILL
    assert wait_gone(driver.fakes, 5.0) == []
    assert driver.terms() == {}


def _qconform_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CI"}


@pytest.mark.parametrize(
    ("signum", "code", "stderr"),
    [(signal.SIGINT, 130, "qconform: interrupted\n"), (signal.SIGTERM, 143, "")],
    ids=["SIGINT", "SIGTERM"],
)
def test_interrupted_qconform_run_leaves_no_fake(
    tmp_path: Path, signum: signal.Signals, code: int, stderr: str
) -> None:
    """End to end: `qconform run` on a hung fake qsd, interrupted mid-case."""
    record = tmp_path / "record"
    record.mkdir()
    wrapper = tmp_path / "qemu-storage-daemon"
    wrapper.write_text(
        WRAPPER.format(python=sys.executable, fake=str(FAKE), record=str(record)), encoding="utf-8"
    )
    wrapper.chmod(0o755)
    cases = tmp_path / "hang.json"
    cases.write_text(json.dumps(HANG_CASES), encoding="utf-8")
    argv = [str(QCONFORM), "run", "--impl", "qsd", "--impl-path", f"qsd={wrapper}", "--cases", str(cases)]
    cli = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_qconform_env(),
        cwd=tmp_path,
        preexec_fn=_default_sigint,
    )
    fakes: list[Pid] = []
    try:
        assert wait_for(lambda: any(record.glob("*.pid")), 20.0), "the fake never started"
        fakes = [Pid.of(int(p.stem)) for p in record.glob("*.pid")]
        time.sleep(0.3)  # connected, negotiated, waiting for a reply that never comes
        os.kill(cli.pid, signum)
        _, err = cli.communicate(timeout=10)
        assert (cli.returncode, err) == (code, stderr)
        assert wait_gone(fakes, 5.0) == []
        assert {int(p.stem): p.read_text(encoding="utf-8") for p in record.glob("*.term")} == {
            pid.pid: "SIGTERM" for pid in fakes
        }
    finally:
        if cli.poll() is None:
            cli.terminate()  # lets it remove its socket folders; SIGKILL only if that fails
            try:
                cli.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                cli.kill()
                cli.communicate(timeout=10)
        kill_if_alive(fakes)


def test_watchdog_stops_a_process_past_its_lifetime(farm: FakeFarm) -> None:
    sock = farm.socket()
    proc = ManagedProcess(fake_argv("hang")(sock), name="fake-lifetime", ready=sock.exists, lifetime=1.0)
    proc.start()
    farm.adopt(proc)
    assert proc.alive()
    status = proc.wait(5.0)
    elapsed = time.monotonic() - proc.started_at
    # The watchdog looks once a second: the stop comes between 1 and 2 s (plus scheduling).
    assert status == Exit(None, signal.SIGTERM)
    assert 1.0 <= elapsed < 3.5
    assert farm.leftovers() == []


def test_start_error_when_the_socket_never_appears(farm: FakeFarm) -> None:
    sock = farm.socket()
    proc = ManagedProcess(
        fake_argv("no-socket")(sock), name="fake-no-socket", ready=sock.exists, start_timeout=1.0
    )
    started = time.monotonic()
    with pytest.raises(StartError) as failure:
        proc.start()
    elapsed = time.monotonic() - started
    farm.processes.append(proc)
    assert 1.0 <= elapsed < 3.0
    assert str(failure.value) == "fake-no-socket not ready after 1s: fake_qmp: not listening, on purpose"
    assert proc.exit_status() == Exit(None, signal.SIGTERM)
    assert farm.leftovers(timeout=0.0) == []


def test_start_error_names_the_exit_status(farm: FakeFarm) -> None:
    sock = farm.socket()
    proc = ManagedProcess(
        fake_argv("exit-at-start")(sock), name="fake-exit", ready=sock.exists, start_timeout=5.0
    )
    started = time.monotonic()
    with pytest.raises(StartError) as failure:
        proc.start()
    assert time.monotonic() - started < 3.0
    assert str(failure.value) == (
        "fake-exit exited with status 3 at start: "
        "qemu-storage-daemon: cannot open /dev/fake-device: No such file or directory"
    )
    assert not proc.alive()
    proc.stop()  # unregister it (see test_failed_start_is_unregistered)


def test_start_error_for_a_binary_that_cannot_run(farm: FakeFarm) -> None:
    proc = ManagedProcess(["/bin/false"], name="false", ready=lambda: False, start_timeout=5.0)
    with pytest.raises(StartError, match=r"^false exited with status 1 at start: \(no stderr\)$"):
        proc.start()
    proc.stop()


def test_failed_start_is_unregistered(farm: FakeFarm) -> None:
    sock = farm.socket()
    proc = ManagedProcess(fake_argv("exit-at-start")(sock), name="fake-exit", ready=sock.exists)
    farm.processes.append(proc)
    with pytest.raises(StartError):
        proc.start()
    assert farm.registered() == []
