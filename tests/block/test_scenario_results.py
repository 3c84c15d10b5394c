"""A command-line scenario's results entry: verdict, recorded divergence, reproducer, report."""

from __future__ import annotations

import json

from conformance.block.command_line import Exited
from conformance.block.scenario_results import GROUP, rerun_command, scenario_result
from conformance.block.scenarios import Outcome, Scenario
from conformance.block.session import Step
from conformance.divergences import Divergence
from conformance.report import render_markdown
from conformance.results import results_document
from conformance.runner import PredictedLine
from reference.qmp.outputs import Message
from reference.qobject.values import QDict

IMAGES = ({"name": "t0", "format": "qcow2", "size": 1048576},)
QUERY = {"execute": "query-block"}
SCENARIO = Scenario(
    "s1", "a scenario", "writable", IMAGES, ("qemu-system",),
    (("-blockdev", "file,node-name=f,filename=@t0"),), (QUERY, {"execute": "quit"}), (),
)  # fmt: skip
OK = PredictedLine.of(Message(QDict({"return": QDict({})})))
BUG = {("s1", "qsd@sid"): Divergence("s1", ("qsd@sid",), "version-difference", "11.1 says more")}


def step(observed: bytes, predicted: PredictedLine | None = OK) -> Step:
    return Step(QUERY, predicted, "" if predicted else "no model of query-block", observed, ())


def outcome(*steps: Step, **fields: object) -> Outcome:
    return Outcome("s1", "qemu-system", steps=steps, **fields)  # type: ignore[arg-type]


def test_agreeing_steps_pass_and_the_first_disagreeing_one_is_the_detail() -> None:
    agreed = scenario_result(SCENARIO, ("qemu-system", "7.2"), outcome(step(b'{"return": {}}')), {})
    assert (agreed.status, agreed.group, agreed.known) == ("pass", GROUP, None)
    result = scenario_result(SCENARIO, ("qemu-system", "7.2"), outcome(step(b'{"return": {}}'),
                             step(b'{"return": []}')), {})  # fmt: skip
    assert result.status == "diverge"
    assert result.detail == 'step 2 (query-block) first disagrees; observed {"return": []}'
    assert result.expected == ['expected {"return": {}}'] * 2
    assert result.observed == ['{"return": {}}', '{"return": []}']


def test_the_images_data_is_part_of_the_diff() -> None:
    result = scenario_result(
        SCENARIO, ("qsd", "7.2"), outcome(step(b'{"return": {}}'), bad_data=("{x}",)), {}
    )
    assert result.status == "diverge" and result.observed[-1] == "the image does not read back {x}"


def test_an_abstention_with_nothing_against_it_is_a_skip_with_the_reason() -> None:
    result = scenario_result(SCENARIO, ("qsd", "7.2"), outcome(step(b"{}", predicted=None)), {})
    assert (result.status, result.detail) == ("skip", "not modelled at step 1: no model of query-block")
    refused = scenario_result(SCENARIO, ("qsd", "7.2"), outcome(oracle="not modelled: -drive if=ide"), {})
    assert (refused.status, refused.detail) == ("skip", "not modelled: -drive if=ide")
    after_a_disagreement = outcome(step(b'{"return": []}'), step(b"{}", predicted=None))
    assert scenario_result(SCENARIO, ("qsd", "7.2"), after_a_disagreement, {}).status == "diverge"


def test_a_crash_is_a_crash_with_its_report() -> None:
    during = scenario_result(SCENARIO, ("qsd", "7.2"), outcome(crash="qsd killed by SIGSEGV"), {})
    assert (during.status, during.detail) == ("crash", "qsd killed by SIGSEGV")
    at_start = outcome(exited=Exited(None, "", "qsd killed by SIGABRT"))
    assert scenario_result(SCENARIO, ("qsd", "7.2"), at_start, {}).status == "crash"


def test_a_refused_command_line_compares_the_exit_line() -> None:
    exit_line = "qemu-system-x86_64: -drive x: no"
    refused = outcome(exited=Exited(1, exit_line, None), predicted_exit=exit_line)
    assert scenario_result(SCENARIO, ("qemu-system", "7.2"), refused, {}).status == "pass"
    other = outcome(exited=Exited(1, "something else", None), predicted_exit=exit_line)
    result = scenario_result(SCENARIO, ("qemu-system", "7.2"), other, {})
    assert result.status == "diverge"
    assert (result.expected, result.observed) == ([f"exit 1: {exit_line}"], ["exit 1: something else"])


def test_the_recorded_divergence_the_reproducer_and_the_report() -> None:
    result = scenario_result(SCENARIO, ("qsd@sid", "11.1.0"), outcome(step(b'{"return": []}')), BUG)
    assert result.known == {"kind": "version-difference", "reason": "11.1 says more"}
    assert scenario_result(SCENARIO, ("qsd", "7.2"), outcome(step(b"[]")), BUG).known is None
    assert result.sent == [json.dumps(QUERY), json.dumps({"execute": "quit"})]
    assert "-blockdev file,node-name=f,filename=@t0" in result.setup and "t0: qcow2 1048576" in result.setup
    assert result.rerun == rerun_command("s1", "qsd@sid")
    assert "test_scenario_in_container[s1-qsd@sid]" in result.rerun
    assert "::test_scenario[s1-qsd]" in rerun_command("s1", "qsd")
    document = results_document([result], [], [], "now", 1.0)
    text = render_markdown(document)
    assert "### s1: version-difference" in text
    assert "- qsd@sid (diverge): step 1 (query-block) first disagrees" in text
    assert f"- rerun: `{result.rerun}`" in text and '{"execute": "query-block"}' in text
    assert "| qsd@sid | 0 | 1 | 0 | 0 | 0 | 0 |" in text
