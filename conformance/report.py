"""A results document rendered as Markdown for people."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from conformance import schema_coverage
from conformance.block.report_tables import render_block

STATUSES = ("pass", "diverge", "crash", "timeout", "skip", "error")


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(document: dict[str, Any]) -> str:
    results = document["results"]
    out = ["# qconform conformance report", ""]
    out.append(f"Run started {document['started']}, {document['seconds']:.1f} s, {len(results)} results.")
    out += [
        "",
        "## Implementations",
        "",
        "| name | version | backend | profile | binary |",
        "|---|---|---|---|---|",
    ]
    for impl in document["implementations"]:
        cells = [impl["name"], impl["version"], impl["backend"], impl["profile"], impl["binary"] or ""]
        out.append("| " + " | ".join(cells) + " |")
    if document["missing"]:
        out += ["", "Not run:", ""]
        out += [f"- **{m['name']}**: {m['reason']}" for m in document["missing"]]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        counts[r["implementation"]][r["status"]] += 1
    out += [
        "",
        "## Summary",
        "",
        "| implementation | " + " | ".join(STATUSES) + " |",
        "|---" * (len(STATUSES) + 1) + "|",
    ]
    for name, counter in counts.items():
        out.append(f"| {name} | " + " | ".join(str(counter[s]) for s in STATUSES) + " |")
    out += _findings_section(results)
    out += _nbd_section(document.get("nbd", []))
    out += render_block(document.get("block"))
    out += schema_coverage.render(document.get("schema_coverage"))
    skipped = Counter(r["detail"] for r in results if r["status"] == "skip")
    if skipped:
        out += ["", "## Skipped", ""]
        out += [f"- {n} × {_cell(reason)}" for reason, n in skipped.most_common()]
    return "\n".join(out) + "\n"


def _nbd_backend(run: dict[str, Any]) -> str:
    """host, or the container's image; with the server's version when the run recorded it."""
    where = run.get("image") or run.get("backend") or "host"
    return f"{where} ({run['version']})" if run.get("version") else str(where)


def _nbd_section(runs: list[dict[str, Any]]) -> list[str]:
    """Per NBD server and mode: verdict counts, then every failed MUST and unmet SHOULD."""
    if not runs:
        return []
    verdicts = ("pass", "fail", "warn", "n/a")
    out = ["", "## NBD servers", "", "| server | backend | mode | " + " | ".join(verdicts) + " | crash |"]
    out.append("|---" * (len(verdicts) + 4) + "|")
    notes: list[str] = []
    for run in runs:
        counts = Counter(r["verdict"] for r in run["results"])
        crash = _cell(run["crash"] or "", 80)
        out.append(
            f"| {run['server']} | {_nbd_backend(run)} | {run['mode']} | "
            + " | ".join(str(counts[v]) for v in verdicts)
            + f" | {crash} |"
        )
        for r in run["results"]:
            if r["verdict"] in ("fail", "warn"):
                notes.append(
                    f"- {run['server']} ({run['mode']}): **{r['verdict']}** `{r['clause']}` "
                    f"({r['probe']}): {_cell(r['reason'], 300)}"
                    + (f" — {_cell(r['known'], 400)}" if r.get("known") else "")
                )
    if notes:
        out += ["", "Fail is a MUST broken; warn a SHOULD not followed.", "", *notes]
    return out


FINDING_STATUSES = ("diverge", "crash", "timeout", "error")


def _findings_section(results: list[dict[str, Any]]) -> list[str]:
    """Unexplained findings one by one, in full; recorded ones once per case with who shows them."""
    findings = [r for r in results if r["status"] in FINDING_STATUSES]
    unexplained = [r for r in findings if not r.get("known")]
    known: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in findings:
        if r.get("known"):
            known[r["case"]].append(r)
    out = ["", "## Findings", ""]
    if not findings:
        out.append("None: every case agreed with its expectation.")
    elif not unexplained:
        out.append("None unexplained: every disagreement is a recorded divergence (below).")
    for r in unexplained:
        out += [
            f"### {r['case']} on {r['implementation']} ({r['status']})",
            "",
            f"- {_cell(r['detail'], 400)}",
        ]
        out += _reproducer(r, with_expected=True)
    if known:
        out += [
            "",
            "## Recorded divergences",
            "",
            "Listed in `fixtures/divergences.json`; each still happens.",
            "",
        ]
    for case, rows in known.items():
        reason = rows[0]["known"]
        out += [f"### {case}: {reason['kind']}", "", _cell(reason["reason"], 1200), ""]
        out += [f"- {r['implementation']} ({r['status']}): {_cell(r['detail'], 200)}" for r in rows]
        out += _reproducer(rows[0], with_expected=False)
    return out


def _reproducer(r: dict[str, Any], with_expected: bool) -> list[str]:
    setup = r.get("setup") or "connect, read the greeting, negotiate unless the case says not to, then send:"
    out = [f"- rerun: `{r['rerun']}`"] if r.get("rerun") else []
    out += [
        f"- reproducer: {setup}",
        "",
        "```",
        *[line.rstrip("\n") for line in r["sent"]],
        "```",
        "",
    ]
    if with_expected:
        out += [
            "- expected:",
            "",
            "```",
            *r["expected"],
            "```",
            "",
            "- observed:",
            "",
            "```",
            *r["observed"],
            "```",
            "",
        ]
    return out
