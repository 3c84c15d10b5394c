"""The lines qemu-io prints for a read or write, as QEMU 7.2's HMP `qemu-io` writes them to stdout.

Pinned on qemu-system-x86_64 7.2: the monitor's reply is "" and qemu-io's
report goes to the process's standard output, one line of what was done
("read 1048576/1048576 bytes at offset 0") and one of how long it took
("1 MiB, 1 ops; 00.00 sec (4.820 GiB/sec and 4935.5662 ops/sec)"). The
second line's time and rates are the clock's: the oracle predicts them as a
TimingLine, which accepts exactly the shapes qemu-io's formatting can print
and nothing else. A pattern mismatch prints "Pattern verification failed at
offset OFF, LEN bytes" (the request's offset and length) before the report;
a request past the end prints "read failed: Input/output error" alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

UNITS = ((60, "EiB"), (50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB"))
# cvtstr() of a measured rate: "%.3f" in a binary unit, "%f" in bytes, the first ".000" and what
# follows cut off; "inf" at zero time. (Pinned: "0.037043 bytes/sec" after aio_write -z.)
RATE = (
    r"(?:inf|[0-9]+(?:\.(?!000)[0-9]{3})?) (?:KiB|MiB|GiB|TiB|PiB|EiB)"
    r"|(?:inf|[0-9]+(?:\.(?!000)[0-9]{6})?) bytes"
)
# timestr(): under a second "SS.ss sec" (%05.2f), else "H:MM:SS.ss".
ELAPSED = r"(?:[0-9]{2}\.[0-9]{2} sec|[0-9]+:[0-9]{2}:[0-9]{2}\.[0-9]{2})"
OPS_RATE = r"(?:inf|[0-9]+\.[0-9]{4})"


def human_size(value: int) -> str:
    """cvtstr() of a byte count: "%.3f" of the quotient in the largest unit it reaches, an exact
    ".000" cut off (pinned: "59.500 KiB", "3.707 KiB"); below 1 KiB the integer and "bytes"."""
    for shift, unit in UNITS:
        if value >= 1 << shift:
            text = f"{value / (1 << shift):.3f}"
            return f"{text.split('.000')[0] if '.000' in text else text} {unit}"
    return f"{value} bytes"


@dataclass(frozen=True)
class TimingLine:
    """qemu-io's second report line: the total and op count are known, the clock's figures are not."""

    total: int
    ops: int = 1

    @property
    def pattern(self) -> re.Pattern[str]:
        head = re.escape(f"{human_size(self.total)}, {self.ops} ops; ")
        return re.compile(f"{head}{ELAPSED} \\((?:{RATE})/sec and {OPS_RATE} ops/sec\\)")

    def matches(self, line: str) -> bool:
        return self.pattern.fullmatch(line) is not None

    def __str__(self) -> str:
        return f"{human_size(self.total)}, {self.ops} ops; <elapsed> (<rate>/sec and <rate> ops/sec)"


OutputLine = str | TimingLine


def report(op: str, offset: int, length: int) -> list[OutputLine]:
    return [f"{op} {length}/{length} bytes at offset {offset}", TimingLine(length)]


def pattern_failed(offset: int, length: int) -> str:
    return f"Pattern verification failed at offset {offset}, {length} bytes"


def output_matches(predicted: Sequence[OutputLine], observed: str) -> bool:
    """The observed text is exactly the predicted lines, each ended by a newline."""
    if not observed.endswith("\n") and predicted:
        return False
    lines = observed.split("\n")[:-1] if predicted else ([] if observed == "" else [observed])
    if len(lines) != len(predicted):
        return False
    return all(
        expected.matches(line) if isinstance(expected, TimingLine) else expected == line
        for expected, line in zip(predicted, lines, strict=True)
    )


def render(predicted: Sequence[OutputLine]) -> str:
    return "".join(f"{line}\n" for line in predicted)
