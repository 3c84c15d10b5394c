"""A block step case's results entry: its verdict, the recorded divergence, and a reproducer."""

from __future__ import annotations

import json

from conformance.block.case_results import case_result, rerun_command
from conformance.block.fixture import BlockFixture, StepCase
from conformance.block.nbd_clients import ClientStep
from conformance.divergences import Divergence
from conformance.report import render_markdown

IMAGES = ({"name": "hd2", "format": "qcow2", "size": 3145728,
           "data": {"pattern": 162, "offset": 2097152, "length": 1048576}},)  # fmt: skip
CONNECT = {"nbd-client": "c", "action": "connect", "export": "hd2", "socket": "@nbd-socket"}
READ = {"nbd-client": "c", "action": "read", "offset": 2097152}
CASE = StepCase("c1", "a case", "writable", (CONNECT, READ))
FIXTURE = BlockFixture(IMAGES, {}, (CASE,))
BUG = {("c1", "qsd"): Divergence("c1", ("qsd",), "implementation-bug", "it corrupts the image")}


def steps(read: str) -> list[ClientStep]:
    return [ClientStep(CONNECT, "ok", "", "ok"), ClientStep(READ, "ok", "", read)]


def test_agreeing_steps_pass_and_a_disagreeing_one_diverges() -> None:
    assert case_result(FIXTURE, CASE, ("qsd", "7.2"), steps("ok"), None, {}).status == "pass"
    result = case_result(FIXTURE, CASE, ("qsd", "7.2"), steps("error"), None, {})
    assert result.status == "diverge" and result.known is None
    assert result.expected == ["expected ok", "expected ok"]
    assert result.observed == ["ok", "error"]
    assert result.detail == "step 2 (NBD client read) first disagrees; observed error"


def test_a_crash_is_a_crash_with_its_report() -> None:
    result = case_result(FIXTURE, CASE, ("qsd", "7.2"), steps("ok")[:1], "killed by SIGSEGV", {})
    assert result.status == "crash" and result.detail == "killed by SIGSEGV"


def test_the_recorded_divergence_is_attached_for_its_implementation_only() -> None:
    mine = case_result(FIXTURE, CASE, ("qsd", "7.2"), steps("error"), None, BUG)
    assert mine.known == {"kind": "implementation-bug", "reason": "it corrupts the image"}
    assert case_result(FIXTURE, CASE, ("qemu-system", "7.2"), steps("error"), None, BUG).known is None


def test_the_reproducer_is_the_case_file_transcript_the_images_and_a_rerun_command() -> None:
    result = case_result(FIXTURE, CASE, ("qsd", "7.2.22"), steps("error"), None, BUG)
    assert result.sent == [json.dumps(CONNECT), json.dumps(READ)]  # "@NAME", not a scratch path
    assert "hd2: qcow2 3145728 bytes, 0xa2 at 2097152 for 1048576" in result.setup
    assert "start qsd (7.2.22)" in result.setup
    assert result.rerun == rerun_command("c1", "qsd")
    assert "test_block_case[c1-qsd]" in result.rerun
    document = {"started": "now", "seconds": 1.0, "implementations": [], "missing": [],
                "results": [result.to_json()]}  # fmt: skip
    text = render_markdown(document)
    assert "### c1: implementation-bug" in text
    assert f"- rerun: `{result.rerun}`" in text
    assert f"- reproducer: {result.setup}" in text and '"offset": 2097152' in text
