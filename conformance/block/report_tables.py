"""The block truth tables of a results document as Markdown: one table per family, a row per cell.

A row gives the cell's columns, the oracle's prediction and each
implementation's verdict; a divergence or crash links to its reproducer
further down. Temporary image folders are shortened to the image's name so
rows read the same from run to run.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from conformance.block.records import FAMILIES, STEP_COLUMNS

_TEMP_IMAGE = re.compile(r"/[^\s',:]*?/qcf-blk-[^/\s]+/(?:images|ro|scratch)/")


def _text(value: str, limit: int = 160) -> str:
    value = _TEMP_IMAGE.sub("", value).replace("|", "\\|").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render_block(section: dict[str, Any] | None) -> list[str]:
    if not section or not (section.get("cells") or section.get("skipped")):
        return []
    cells: list[dict[str, Any]] = section.get("cells", [])
    out = ["", "## Block truth tables", ""]
    out += _summary(cells)
    findings: list[str] = []
    for family, (title, columns) in FAMILIES.items():
        mine = [c for c in cells if c["family"] == family]
        if mine:
            out += _family_table(title, list(columns), mine, findings, STEP_COLUMNS.get(family, ()))
    for skip in section.get("skipped", []):
        out.append(f"- not run on **{skip['implementation']}** ({skip['family']}): {skip['reason']}")
    if findings:
        out += ["", "### Block findings", "", *findings]
    return out


def _summary(cells: list[dict[str, Any]]) -> list[str]:
    counts: dict[tuple[str, str], Counter[str]] = {}
    for c in cells:
        counts.setdefault((c["family"], c["implementation"]), Counter())[c["status"]] += 1
    out = ["| table | implementation | cells | agree | diverge | crash |", "|---|---|---|---|---|---|"]
    for (family, impl), n in counts.items():
        total = sum(n.values())
        out.append(f"| {family} | {impl} | {total} | {n['pass']} | {n['diverge']} | {n['crash']} |")
    return out


def _verdict(cell: dict[str, Any], anchor: str) -> str:
    if cell["status"] == "pass":
        return "agree"
    known = cell.get("known")
    label = f"known {known['kind']}" if known else cell["status"]
    return f"[{label}](#{anchor}): {_text(cell['observed'], 100)}"


def _step_text(by_impl: dict[str, dict[str, Any]], step: str) -> str:
    """One step's outcome; where implementations answered differently, each one's."""
    seen = {impl: _text(c.get("steps", {}).get(step, ""), 80) for impl, c in by_impl.items()}
    if len(set(seen.values())) <= 1:
        return next(iter(seen.values()), "")
    return "; ".join(f"{impl}: {text}" for impl, text in seen.items())


def _family_table(
    title: str, columns: list[str], cells: list[dict[str, Any]], findings: list[str], steps: tuple[str, ...]
) -> list[str]:
    impls = list(dict.fromkeys(c["implementation"] for c in cells))
    rows: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    for c in cells:
        rows.setdefault(tuple(c["cell"].get(col, "") for col in columns), {})[c["implementation"]] = c
    head = [*columns, "oracle predicts", *impls, *steps]
    out = ["", f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, by_impl in rows.items():
        predictions = list(dict.fromkeys(_text(c["predicted"]) for c in by_impl.values()))
        verdicts = []
        for impl in impls:
            cell = by_impl.get(impl)
            if cell is None:
                verdicts.append("")
                continue
            anchor = f"block-{len(findings) + 1}"
            verdicts.append(_verdict(cell, anchor))
            if cell["status"] != "pass":
                findings += _finding(cell, anchor)
        step_texts = [_step_text(by_impl, step) for step in steps]
        out.append("| " + " | ".join([*key, " / ".join(predictions), *verdicts, *step_texts]) + " |")
    return out


def _finding(cell: dict[str, Any], anchor: str) -> list[str]:
    known = cell.get("known")
    verdict = f"known {known['kind']}: {known['reason']}" if known else "unexplained"
    where = ", ".join(f"{k} {v}" for k, v in cell["cell"].items())
    return [
        f'<a id="{anchor}"></a>',
        f"#### {cell['family']}: {where} on {cell['implementation']} ({cell['status']})",
        "",
        f"- predicted: {_text(cell['predicted'], 400)}",
        f"- observed: {_text(cell['observed'], 400)}",
        f"- verdict: {_text(verdict, 400)}",
        f"- detail: {_text(cell['detail'], 600)}",
        "- reproducer:",
        "",
        "```",
        *cell["reproducer"],
        "```",
        "",
    ]
