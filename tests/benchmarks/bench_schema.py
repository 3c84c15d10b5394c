"""Benchmarks for issue 3 (schema-driven differential testing), measured in one run:

1. agreement of the oracle with QEMU on generated argument cases that are not
   abstentions, over every command of qsd and qemu-system (target >= 99 %),
   with the abstention and withheld shares;
2. loading the qemu-system introspection (1051 entries) and building every
   command's strategy (target <= 50 ms);
3. the oracle's prediction for a blockdev-add request vs a qsd round trip
   (target <= 10 %).

    .venv/bin/python tests/benchmarks/bench_schema.py [--per-command N] [--impl NAME]...
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings

from conformance.generate import ABSTAIN, SEND, WITHHOLD, ArgumentGenerator, Generated, request_case, verdict
from conformance.implementations import INTROSPECTION_DIR, Implementation, QmpStream, discover, select
from conformance.runner import PASS, SKIP, InstancePool, run_case
from conformance.snapshots import model_from_file
from reference.profiles import get_profile
from reference.qapi.introspection import load_schema
from reference.qmp.monitor import QmpConnection
from reference.qmp.wire import render

SYSTEM_SNAPSHOT = INTROSPECTION_DIR / "qemu-system-7.2.json"
QSD_SNAPSHOT = INTROSPECTION_DIR / "qsd-7.2.json"


def draw_examples(generator: ArgumentGenerator, command: str, n: int) -> list[Generated]:
    found: list[Generated] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=False,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(generator.arguments(command))
    def collect(generated: Generated) -> None:
        found.append(generated)

    collect()
    return found


def agreement(impl: Implementation, pool: InstancePool, per_command: int) -> Counter[str]:
    schema = model_from_file(impl.snapshot_path, impl.profile, exact_identity=False).schema
    generator = ArgumentGenerator(schema)
    tally: Counter[str] = Counter()
    for command in sorted(schema.commands):
        sendable = []
        for generated in draw_examples(generator, command, per_command):
            action = verdict(schema, impl.profile, generated).action
            tally[action] += 1
            if action == SEND:
                sendable.append(generated)
        for start in range(0, len(sendable), 20):
            batch = sendable[start : start + 20]
            if run_case(request_case(batch), impl, pool).status == PASS:
                tally["agreed"] += len(batch)
                continue
            for one in batch:  # find which ones disagree
                result = run_case(request_case([one]), impl, pool)
                if result.status == SKIP:
                    tally[SEND] -= 1
                    tally[ABSTAIN] += 1
                elif result.status == PASS:
                    tally["agreed"] += 1
                else:
                    tally["disagreed"] += 1
                    print(f"  {impl.name} {command}: {result.status}: {result.detail}")
                    print(f"    sent {result.sent[0]}")
    return tally


def build_time(rounds: int = 30) -> float:
    text = SYSTEM_SNAPSHOT.read_text(encoding="utf-8")
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        schema = load_schema(json.loads(text)["query-qmp-schema"])
        generator = ArgumentGenerator(schema)
        strategies = [generator.arguments(command) for command in schema.commands]
        times.append(time.perf_counter() - began)
        assert len(strategies) == 216
    return statistics.median(times)


# A deep blockdev-add, broken at its last member so the visitor walks all of it (safe to send).
BLOCKDEV_ADD: dict[str, Any] = {
    "driver": "qcow2",
    "node-name": "n0",
    "discard": "unmap",
    "cache": {"direct": False, "no-flush": False},
    "read-only": False,
    "file": {
        "driver": "file",
        "filename": "/nonexistent/qconform.qcow2",
        "aio": "threads",
        "locking": "off",
    },
    "backing": None,
    "lazy-refcounts": True,
    "overlap-check": {"template": "cached", "main-header": True},
    "cache-size": 1,
    "l2-cache-size": 1,
    "zz-unexpected": 1,
}


def request(i: int) -> bytes:
    return (json.dumps({"execute": "blockdev-add", "arguments": BLOCKDEV_ADD, "id": i}) + "\n").encode()


def prediction_ratio(
    pool: InstancePool, impl: Implementation, n: int = 50, rounds: int = 15
) -> tuple[float, ...]:
    """Median oracle cost, QEMU round trip and their ratio, in alternating rounds."""
    conn = QmpConnection(model_from_file(QSD_SNAPSHOT, get_profile("7.2"), exact_identity=True))
    conn.connect()
    conn.receive(b'{"execute": "qmp_capabilities"}\n')
    stream: QmpStream = pool.get(impl).connect()
    stream.read_line()
    stream.send(b'{"execute": "qmp_capabilities"}\n')
    stream.read_line()
    oracle, qemu, ratio = [], [], []
    for r in range(rounds):
        began = time.perf_counter()
        for i in range(r * n, (r + 1) * n):
            render(conn.receive(request(i)))
        o = (time.perf_counter() - began) / n
        began = time.perf_counter()
        for i in range(r * n, (r + 1) * n):
            stream.send(request(i))
            stream.read_line()
        q = (time.perf_counter() - began) / n
        oracle.append(o)
        qemu.append(q)
        ratio.append(o / q)
    stream.close()
    return statistics.median(oracle), statistics.median(qemu), statistics.median(ratio)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-command", type=int, default=30)
    parser.add_argument("--impl", action="append", default=[])
    args = parser.parse_args()
    found, missing = discover()
    impls = select(args.impl or ["qsd", "qemu-system"], found, missing, strict=True)
    pool = InstancePool()
    try:
        total: Counter[str] = Counter()
        for impl in impls:
            tally = agreement(impl, pool, args.per_command)
            total += tally
            report(impl.name, tally)
        report("all", total)
        print(f"load + build every qemu-system strategy: {build_time() * 1000:.1f} ms (target <= 50 ms)")
        qsd = next(i for i in found if i.name == "qsd")
        o, q, ratio = prediction_ratio(pool, qsd)
        print(
            f"blockdev-add: oracle {o * 1e6:.0f} us, qsd round trip {q * 1e6:.0f} us, "
            f"ratio {ratio:.1%} (target <= 10 %)"
        )
    finally:
        pool.close()


def report(name: str, tally: Counter[str]) -> None:
    generated = tally[SEND] + tally[ABSTAIN] + tally[WITHHOLD]
    decided = tally["agreed"] + tally["disagreed"]
    share = tally["agreed"] / max(decided, 1)
    print(
        f"{name}: {generated} generated, {tally[SEND]} sent, agreement {share:.2%} "
        f"({tally['disagreed']} disagreed), abstained {tally[ABSTAIN] / max(generated, 1):.1%}, "
        f"withheld (accepted, may act) {tally[WITHHOLD] / max(generated, 1):.1%}"
    )


if __name__ == "__main__":
    main()
