"""Per-command coverage of the schema-argument differential, as a results section and a report.

The results file's "schema_coverage" section maps implementation -> command ->
counts: generated (drawn by hypothesis), sent (to the implementation), agreed,
abstained (the oracle cannot say), withheld (valid for a command that may act),
and reasons (abstentions by kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COUNTS = ("generated", "sent", "agreed", "abstained", "withheld")
Coverage = dict[str, dict[str, dict[str, Any]]]


def merge(into: Coverage, impl: str, commands: Mapping[str, Mapping[str, Any]]) -> None:
    """Add one implementation's per-command counts (xdist parts, chunks) into a section."""
    table = into.setdefault(impl, {})
    for command, counts in commands.items():
        entry = table.setdefault(command, {name: 0 for name in COUNTS} | {"reasons": {}})
        for name in COUNTS:
            entry[name] += counts.get(name, 0)
        for reason, n in counts.get("reasons", {}).items():
            entry["reasons"][reason] = entry["reasons"].get(reason, 0) + n


def merge_all(parts: Iterable[Coverage]) -> Coverage:
    merged: Coverage = {}
    for part in parts:
        for impl, commands in part.items():
            merge(merged, impl, commands)
    return merged


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "-"


def render(section: Coverage | None) -> list[str]:
    if not section:
        return []
    out = [
        "",
        "## Schema-argument coverage",
        "",
        "Arguments generated from each implementation's own query-qmp-schema, per command: sent "
        "(the oracle predicted the answer), abstained (it cannot say), withheld (valid arguments "
        "for a command that may act).",
        "",
        "| implementation | commands | reached | generated | sent | agreed | abstained | withheld |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for impl, commands in sorted(section.items()):
        totals = {name: sum(c[name] for c in commands.values()) for name in COUNTS}
        reached = sum(1 for c in commands.values() if c["sent"] or c["abstained"])
        out.append(
            f"| {impl} | {len(commands)} | {reached} | {totals['generated']} | {totals['sent']} | "
            f"{totals['agreed']} ({_percent(totals['agreed'], totals['sent'])}) | "
            f"{totals['abstained']} | {totals['withheld']} |"
        )
    for impl, commands in sorted(section.items()):
        out += [
            "",
            f"<details><summary>{impl}: per command</summary>",
            "",
            "| command | generated | sent | agreed | abstained | withheld | abstained because |",
            "|---|---|---|---|---|---|---|",
        ]
        for command, c in sorted(commands.items()):
            reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(c["reasons"].items()))
            counts = " | ".join(str(c[name]) for name in COUNTS)
            out.append(f"| {command} | {counts} | {reasons} |")
        out += ["", "</details>"]
    return out
