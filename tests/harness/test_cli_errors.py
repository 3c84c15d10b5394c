"""Bad input to qconform: exit status 2 and one line on stderr starting "qconform: ", never a traceback.

Each test runs the installed `qconform` script as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

QCONFORM = Path(sys.executable).parent / "qconform"

TINY_CASES: dict[str, Any] = {
    "group": "harness",
    "cases": [
        {
            "id": "harness-tiny",
            "description": "One unknown command.",
            "send": '{"execute": "no-such-command", "id": 1}\n',
            "expect": "predict",
        }
    ],
}


def qconform(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # CI=true would make every run strict
    return subprocess.run(
        [str(QCONFORM), *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one error line, after checking the exit status and that nothing else was written."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert (proc.returncode, len(lines)) == (2, 1), proc.stderr
    assert lines[0].startswith("qconform: "), lines[0]
    return lines[0]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_json(tmp_path / "tiny.json", TINY_CASES)


def run_reference(*args: str, cases: Path) -> subprocess.CompletedProcess[str]:
    return qconform("run", "--impl", "reference", "--cases", str(cases), *args)


# --- implementations -------------------------------------------------------------------------


def test_unknown_impl(tiny: Path) -> None:
    line = error_line(qconform("run", "--impl", "no-such-impl", "--cases", str(tiny)))
    assert line.startswith("qconform: unknown implementation 'no-such-impl' (known: reference, ")


def test_impl_path_without_a_name() -> None:
    line = error_line(qconform("impls", "--impl-path", "/usr/bin/qemu-storage-daemon"))
    assert line == "qconform: --impl-path wants NAME=PATH, got '/usr/bin/qemu-storage-daemon'"


def test_impl_path_for_an_unknown_implementation() -> None:
    line = error_line(qconform("impls", "--impl-path", "nosuch=/bin/true"))
    assert line == "qconform: --impl-path: unknown implementation 'nosuch'"


def test_impl_path_to_a_binary_that_is_not_qemu(tmp_path: Path) -> None:
    binary = tmp_path / "not-qemu"
    binary.write_text("#!/bin/sh\necho 'not-qemu 1.0'\n", encoding="utf-8")
    binary.chmod(0o755)
    line = error_line(qconform("impls", "--impl-path", f"qsd={binary}"))
    assert line == f"qconform: {binary}: --version printed no version: 'not-qemu 1.0'"


def test_impl_path_to_a_file_that_cannot_run(tmp_path: Path) -> None:
    binary = tmp_path / "not-executable"
    binary.write_text("not a program\n", encoding="utf-8")
    line = error_line(qconform("impls", "--impl-path", f"qsd={binary}"))
    assert line.startswith(f"qconform: {binary}: cannot run --version: ")


def test_impl_path_to_a_missing_file_in_a_strict_run(tmp_path: Path, tiny: Path) -> None:
    missing = tmp_path / "no-such-qsd"
    line = error_line(
        qconform("run", "--strict", "--impl", "qsd", "--impl-path", f"qsd={missing}", "--cases", str(tiny))
    )
    assert line == f"qconform: --impl-path qsd={missing}: no such file"


def test_impl_path_to_a_missing_file(tmp_path: Path, tiny: Path) -> None:
    missing = tmp_path / "no-such-qsd"
    line = error_line(qconform("run", "--impl", "qsd", "--impl-path", f"qsd={missing}", "--cases", str(tiny)))
    assert str(missing) in line


# --- case files ----------------------------------------------------------------------------------


def test_case_file_that_is_not_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n "group": "harness",\n "cases": [,]\n}\n', encoding="utf-8")
    line = error_line(run_reference(cases=broken))
    assert line == f"qconform: {broken}:3:12: not JSON: Expecting value"


def test_case_missing_a_required_field(tmp_path: Path) -> None:
    case = {k: v for k, v in TINY_CASES["cases"][0].items() if k != "expect"}
    broken = write_json(tmp_path / "no-expect.json", {"group": "harness", "cases": [case]})
    line = error_line(run_reference(cases=broken))
    assert line == f"qconform: {broken}: cases[0]: 'expect' is a required property"


def test_case_file_missing_its_group(tmp_path: Path) -> None:
    broken = write_json(tmp_path / "no-group.json", {"cases": TINY_CASES["cases"]})
    line = error_line(run_reference(cases=broken))
    assert line == f"qconform: {broken}: (top level): 'group' is a required property"


def test_case_file_with_a_wrong_type(tmp_path: Path) -> None:
    case = {**TINY_CASES["cases"][0], "negotiate": "yes"}
    broken = write_json(tmp_path / "bad-negotiate.json", {"group": "harness", "cases": [case]})
    line = error_line(run_reference(cases=broken))
    assert line == f"qconform: {broken}: cases[0].negotiate: 'yes' is not of type 'boolean'"


def test_missing_case_file(tmp_path: Path) -> None:
    line = error_line(run_reference(cases=tmp_path / "absent.json"))
    assert line == f"qconform: {tmp_path / 'absent.json'}: cannot read: No such file or directory"


def test_duplicate_case_ids(tmp_path: Path, tiny: Path) -> None:
    again = write_json(tmp_path / "again.json", TINY_CASES)
    line = error_line(qconform("run", "--impl", "reference", "--cases", str(tiny), str(again)))
    assert line == f"qconform: {tiny}: case id 'harness-tiny' already used in again.json"


# --- output paths --------------------------------------------------------------------------------


def test_output_in_a_folder_that_cannot_be_made(tmp_path: Path, tiny: Path) -> None:
    target = Path("/proc/absent/results.json")
    line = error_line(run_reference("-o", str(target), cases=tiny))
    assert line.startswith(f"qconform: {target}: cannot create folder /proc/absent: ")


def test_output_in_a_new_folder_is_made(tmp_path: Path, tiny: Path) -> None:
    target = tmp_path / "new" / "results.json"
    done = run_reference("-o", str(target), cases=tiny)
    assert done.returncode == 0, done.stderr
    assert target.exists()


def test_impl_names_members_of_every_family(tmp_path: Path, tiny: Path) -> None:
    # "reference" is a QMP implementation and an NBD server: both run, no other NBD server does.
    target = tmp_path / "results.json"
    assert run_reference("-o", str(target), "--no-block", cases=tiny).returncode == 0
    document = json.loads(target.read_text())
    assert {r["implementation"] for r in document["results"]} == {"reference"}
    assert [run["server"] for run in document["nbd"]] == ["reference", "reference"]


def test_output_that_cannot_be_written(tiny: Path) -> None:
    line = error_line(run_reference("-o", "/proc/qconform-results.json", cases=tiny))
    assert line.startswith("qconform: /proc/qconform-results.json")


def test_report_that_cannot_be_written(tiny: Path) -> None:
    error_line(run_reference("--report", "/proc/qconform-report.md", cases=tiny))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_in_a_read_only_folder(tmp_path: Path, tiny: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = error_line(run_reference("-o", str(folder / "results.json"), cases=tiny))
    finally:
        folder.chmod(0o755)
    assert line == f"qconform: {folder / 'results.json'}: not writable"


def test_capture_into_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "absent" / "qsd.json"
    line = error_line(qconform("capture", "--impl", "qsd", "-o", str(target)))
    assert line == f"qconform: {target}: folder {target.parent} does not exist"


# --- serve ----------------------------------------------------------------------------------------


def test_serve_on_a_socket_in_a_missing_folder(tmp_path: Path) -> None:
    sock = tmp_path / "absent" / "qmp.sock"
    line = error_line(qconform("serve", "qmp", "--socket", str(sock)))
    assert line == f"qconform: {sock}: folder {sock.parent} does not exist"


def test_serve_on_a_socket_path_that_is_too_long(tmp_path: Path) -> None:
    sock = tmp_path / ("s" * 120)
    line = error_line(qconform("serve", "qmp", "--socket", str(sock)))
    assert line.startswith(f"qconform: {sock}: ")
    assert "too long" in line


def test_serve_with_an_unknown_profile(tmp_path: Path) -> None:
    line = error_line(qconform("serve", "qmp", "--socket", str(tmp_path / "s"), "--profile", "9.9"))
    assert line == "qconform: unknown profile '9.9' (known: 3.1, 5.2, 7.2, 10.0, 11.1)"


def test_serve_with_a_snapshot_that_is_not_json(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap.json"
    snapshot.write_text("{]", encoding="utf-8")
    line = error_line(qconform("serve", "qmp", "--socket", str(tmp_path / "s"), "--snapshot", str(snapshot)))
    assert line == f"qconform: {snapshot}:1: not JSON: Expecting property name enclosed in double quotes"


def test_serve_with_a_snapshot_missing_a_field(tmp_path: Path) -> None:
    snapshot = write_json(tmp_path / "snap.json", {"format": "qconform-snapshot/1", "flavour": "qsd"})
    line = error_line(qconform("serve", "qmp", "--socket", str(tmp_path / "s"), "--snapshot", str(snapshot)))
    assert line.startswith(f"qconform: {snapshot}: snapshot lacks or garbles 'query-qmp-schema'")


# --- report ---------------------------------------------------------------------------------------


def test_report_of_a_missing_results_file(tmp_path: Path) -> None:
    line = error_line(qconform("report", str(tmp_path / "absent.json")))
    assert line == f"qconform: {tmp_path / 'absent.json'}: cannot read: No such file or directory"


def test_report_output_that_cannot_be_written(tmp_path: Path, tiny: Path) -> None:
    results = tmp_path / "results.json"
    assert run_reference("-o", str(results), cases=tiny).returncode == 0
    error_line(qconform("report", str(results), "-o", "/proc/qconform-report.md"))


def test_report_of_a_file_that_is_not_results(tmp_path: Path) -> None:
    other = write_json(tmp_path / "other.json", {"format": "something-else"})
    line = error_line(qconform("report", str(other)))
    assert line == f"qconform: {other}: not a qconform-results/1 results file"


def test_report_of_results_missing_a_field(tmp_path: Path) -> None:
    partial = write_json(tmp_path / "partial.json", {"format": "qconform-results/1"})
    line = error_line(qconform("report", str(partial)))
    assert str(partial) in line
    assert "results" in line
