"""What the monitor hands back to its driver."""

from __future__ import annotations

from dataclasses import dataclass

from reference.qobject.values import QDict


@dataclass(frozen=True)
class Message:
    """One line QEMU writes: a greeting, a reply or an event.

    `alternatives` holds other messages QEMU may write instead, where its
    choice follows hash-table order. An `out_of_band` reply may be written
    before replies to in-band requests that were sent ahead of it.
    """

    body: QDict
    alternatives: tuple[QDict, ...] = ()
    out_of_band: bool = False

    def candidates(self) -> tuple[QDict, ...]:
        return (self.body, *self.alternatives)


@dataclass(frozen=True)
class Closed:
    """QEMU closes the connection (the process is leaving)."""

    reason: str


@dataclass(frozen=True)
class NotModelled:
    """The oracle stops predicting here rather than guess."""

    reason: str


Output = Message | Closed | NotModelled
