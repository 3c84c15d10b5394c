"""Benchmarks for issue 2, measured in one run (not timed tests):

1. oracle cost per request vs a qemu-storage-daemon round trip (target <= 10 %);
2. differential throughput (cases/s through the harness) vs the raw rate of the
   same conversations on the wire without oracle or comparison (target >= 70 %);
3. the conformance suite's wall time with `pytest -n 2` vs `-n 1` (target ratio >= 1.7).

    .venv/bin/python tests/benchmarks/bench_qmp.py [--skip-suite]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from conformance.cases import load_cases
from conformance.implementations import Implementation, QmpStream, discover, select
from conformance.inprocess import DEFAULT_SNAPSHOT
from conformance.runner import InstancePool, oracle_prediction, run_case
from conformance.snapshots import model_from_file
from conformance.transport import ReadTimeout
from reference.profiles import get_profile
from reference.qmp.monitor import QmpConnection
from reference.qmp.transcript import negotiation_line
from reference.qmp.wire import render

REPO = Path(__file__).resolve().parents[2]


def oracle_session() -> QmpConnection:
    model = model_from_file(DEFAULT_SNAPSHOT, get_profile("7.2"), exact_identity=True)
    conn = QmpConnection(model)
    conn.connect()
    conn.receive(b'{"execute": "qmp_capabilities"}\n')
    return conn


def request(i: int) -> bytes:
    # A fresh id each time: nothing can be served from a cache.
    return b'{"execute": "query-version", "id": %d}\n' % i


def oracle_batch(conn: QmpConnection, start: int, n: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + n):
        render(conn.receive(request(i)))
    return (time.perf_counter() - began) / n


def qemu_batch(stream: QmpStream, start: int, n: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + n):
        stream.send(request(i))
        stream.read_line()
    return (time.perf_counter() - began) / n


def per_request(
    pool: InstancePool, impl: Implementation, n: int, rounds: int = 15
) -> tuple[float, float, float]:
    """Median oracle cost, QEMU round trip and their ratio, measured in alternating
    rounds so that load on the machine weighs on both alike."""
    conn = oracle_session()
    stream = pool.get(impl).connect()
    stream.read_line()
    stream.send(b'{"execute": "qmp_capabilities"}\n')
    stream.read_line()
    oracle, qemu, ratio = [], [], []
    for r in range(rounds):
        o = oracle_batch(conn, r * n, n)
        q = qemu_batch(stream, r * n, n)
        oracle.append(o)
        qemu.append(q)
        ratio.append(o / q)
    stream.close()
    return statistics.median(oracle), statistics.median(qemu), statistics.median(ratio)


def raw_conversations(pool: InstancePool, impl: object, cases: list) -> float:  # type: ignore[type-arg]
    """The same conversations on the wire, reading until the sync reply, with no oracle."""
    started = time.perf_counter()
    for case in cases:
        instance = pool.get(impl)  # type: ignore[arg-type]
        stream = instance.connect()
        stream.read_line()
        if case.negotiate:
            stream.send(negotiation_line(case.capabilities))
            stream.read_line()
        for chunk in case.wire_segments():
            stream.send(chunk)
        try:
            while True:
                line = stream.read_line(0.3 if case.incomplete else 5.0)
                if line is None or b'"qconform-sync"' in line:
                    break
        except ReadTimeout:
            pass
        stream.close()
    return len(cases) / (time.perf_counter() - started)


def harness_rate(pool: InstancePool, impl: object, cases: list) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    for case in cases:
        run_case(case, impl, pool)  # type: ignore[arg-type]
    return len(cases) / (time.perf_counter() - started)


def suite_time(workers: int) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            str(workers),
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"the suite failed with -n {workers}:\n{completed.stdout[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="per round")
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--suite-only", action="store_true")
    args = parser.parse_args()
    if args.suite_only:
        return suite_speedup()
    found, missing = discover()
    (qsd,) = select(["qsd"], found, missing, strict=True)
    pool = InstancePool()
    try:
        oracle, qemu, ratio = per_request(pool, qsd, args.requests)
        print(f"oracle per request:     {oracle * 1e6:8.1f} µs (median of 15 rounds)")
        print(f"qsd round trip:         {qemu * 1e6:8.1f} µs")
        print(f"oracle / round trip:    {ratio:8.1%}   (target <= 10%)")
        # Cases whose prediction is exact and whose process survives (no quit).
        cases = [
            c
            for c in load_cases()
            if not c.incomplete and not c.id.startswith("quit") and not oracle_prediction(c, qsd).not_modelled
        ]
        raws, harnesses = [], []
        for _ in range(5):  # alternating rounds, as above
            raws.append(raw_conversations(pool, qsd, cases))
            harnesses.append(harness_rate(pool, qsd, cases))
        raw, harness = statistics.median(raws), statistics.median(harnesses)
        ratio = statistics.median(h / r for h, r in zip(harnesses, raws, strict=True))
        print(f"raw conversations:      {raw:8.1f} cases/s ({len(cases)} cases, median of 5 rounds)")
        print(f"differential harness:   {harness:8.1f} cases/s")
        print(f"harness / raw:          {ratio:8.1%}   (target >= 70%)")
    finally:
        pool.close()
    if not args.skip_suite:
        suite_speedup()


def suite_speedup() -> None:
    ones, twos = [], []
    for _ in range(2):
        ones.append(suite_time(1))
        twos.append(suite_time(2))
    one, two = min(ones), min(twos)
    print(f"suite -n 1:             {one:8.1f} s (best of 2)")
    print(f"suite -n 2:             {two:8.1f} s (best of 2)")
    print(f"speed-up:               {one / two:8.2f}x  (target >= 1.7x)")


if __name__ == "__main__":
    main()
