"""The report's findings: unexplained ones in full, recorded ones once per case."""

from __future__ import annotations

from typing import Any

from conformance.report import render_markdown


def result(case: str, impl: str, status: str, known: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "case": case, "group": "g", "implementation": impl, "version": "7.2", "status": status,
        "detail": f"{impl} said no", "expected": ["E"], "observed": ["O"], "sent": ["SEND\n"],
        "seconds": 0.1, "known": known,
    }  # fmt: skip


def document(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"started": "now", "seconds": 1.0, "implementations": [], "missing": [], "results": results}


def test_recorded_divergences_are_grouped_by_case() -> None:
    bug = {"kind": "implementation-bug", "reason": "it aborts"}
    text = render_markdown(
        document(
            [
                result("c1", "qsd", "crash", bug),
                result("c1", "qsd@sid", "crash", bug),
                result("c2", "qsd", "pass"),
            ]
        )
    )
    assert "None unexplained" in text
    assert text.count("### c1: implementation-bug") == 1
    assert "- qsd (crash): qsd said no" in text and "- qsd@sid (crash): qsd@sid said no" in text
    assert text.count("SEND") == 1


def test_unexplained_findings_come_in_full() -> None:
    text = render_markdown(document([result("c1", "qsd", "diverge")]))
    assert "### c1 on qsd (diverge)" in text
    assert "- expected:" in text and "- observed:" in text
    assert "Recorded divergences" not in text


def test_a_result_without_setup_keeps_the_qmp_reproducer_and_no_rerun_line() -> None:
    text = render_markdown(document([result("c1", "qsd", "diverge")]))
    assert "- reproducer: connect, read the greeting" in text
    assert "- rerun:" not in text
