"""The schema-coverage section: parts merge by summing, the report shows totals and each command."""

from __future__ import annotations

from conformance import schema_coverage


def counts(generated: int, sent: int, agreed: int, **reasons: int) -> dict[str, object]:
    abstained = sum(reasons.values())
    return {
        "generated": generated, "sent": sent, "agreed": agreed,
        "abstained": abstained, "withheld": generated - sent - abstained, "reasons": reasons,
    }  # fmt: skip


def test_parts_merge_by_summing() -> None:
    first = {"qsd": {"query-name": counts(4, 3, 3), "device_add": counts(2, 0, 0, gen_false=2)}}
    second = {"qsd": {"query-name": counts(5, 5, 4)}, "qemu-system": {"stop": counts(1, 1, 1)}}
    merged = schema_coverage.merge_all([first, second])
    assert merged["qsd"]["query-name"] == counts(9, 8, 7)
    assert merged["qsd"]["device_add"]["reasons"] == {"gen_false": 2}
    assert set(merged) == {"qsd", "qemu-system"}


def test_report_has_totals_and_a_row_per_command() -> None:
    section = {"qsd": {"query-name": counts(9, 8, 7), "device_add": counts(2, 0, 0, gen_false=2)}}
    text = "\n".join(schema_coverage.render(section))
    assert "| qsd | 2 | 2 | 11 | 8 | 7 (87.50 %) | 2 | 1 |" in text
    assert "| device_add | 2 | 0 | 0 | 2 | 0 | gen_false (2) |" in text
    assert schema_coverage.render(None) == []
