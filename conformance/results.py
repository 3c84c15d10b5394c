"""The results file: one JSON document per run (format "qconform-results/1").

    {"format": "qconform-results/1", "started": ISO-8601, "seconds": float,
     "implementations": [{"name", "version", "backend", "binary", "profile"}],
     "missing": [{"name", "reason"}],
     "results": [{"case", "group", "implementation", "version", "status",
                  "detail", "expected", "observed", "sent", "seconds", "known",
                  "setup", "rerun"}]}

status is one of pass, diverge, crash, timeout, skip, error. known, where
set, is the recorded divergence ({"kind", "reason"}) that explains a diverge.
setup (what to do before sending `sent`) and rerun (a command running the case
again) are empty except for block step cases (conformance/block/case_results.py).

Optional sections, one per family of checks:

    "nbd": [NBD server runs, conformance/nbd/runner.py],
    "block": {"cells": [{"family", "id", "implementation", "version", "cell",
                         "predicted", "observed", "status", "detail",
                         "reproducer", "known"}],
              "skipped": [{"implementation", "family", "reason"}]}

A block cell's "cell" maps the family's columns (driver, storage, read-only,
auto-read-only, front end, ...) to their values; predicted and observed are
short verdicts ("read-write", "degraded to read-only", "error: ...").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.implementations import Implementation, Missing
from conformance.jsonfile import read_json
from conformance.runner import Result

RESULTS_FORMAT = "qconform-results/1"


def implementation_record(impl: Implementation) -> dict[str, Any]:
    return {
        "name": impl.name,
        "version": impl.version,
        "backend": impl.backend,
        "binary": impl.binary,
        "profile": impl.profile.name,
    }


def results_document(
    results: Iterable[Result],
    impls: Iterable[Implementation],
    missing: Iterable[Missing],
    started: str,
    seconds: float,
) -> dict[str, Any]:
    return {
        "format": RESULTS_FORMAT,
        "started": started,
        "seconds": round(seconds, 3),
        "implementations": [implementation_record(i) for i in impls],
        "missing": [{"name": m.name, "reason": m.reason} for m in missing],
        "results": [r.to_json() for r in results],
    }


def block_section(cells: Iterable[dict[str, Any]], skipped: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"cells": list(cells), "skipped": list(skipped)}


def read_results(path: Path) -> dict[str, Any]:
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise QconformError(f"{path}: not a {RESULTS_FORMAT} results file")
    for key in ("started", "seconds", "implementations", "missing", "results"):
        if key not in document:
            raise QconformError(f"{path}: results file lacks '{key}'")
    block = document.get("block")
    if block is not None and (not isinstance(block, dict) or not isinstance(block.get("cells"), list)):
        raise QconformError(f"{path}: 'block' must be an object with a list of 'cells'")
    return document
