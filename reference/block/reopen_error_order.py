"""Which error blockdev-reopen reports when an option error meets another one (QEMU 7.2).

Probed on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-error-order.json): QEMU
prepares the queue's entries one after the other, each completely, and checks permissions on
the new graph only once all are prepared. One entry's prepare: its own options first
(detect-zeroes "unmap" without discard "unmap", then its driver's: qcow2's cache sizes, raw's
window), then its links ('backing', then 'file'), last "Cannot change the option". A child
reopened with inline options is queued right after its parent, so its prepare follows the
parent's whole prepare. The first error in that order wins: an earlier entry's option error
beats any error of a later entry, an entry's own option error beats its links and its
unchanged options, and every option error beats a permission error.

Where the queue's order is not the entries' (a node named twice, a node queued under its
parent, a backing child's own entry, a waiting job) the order abstains, and so does an inline
backing child's error (whether QEMU queues the backing or the file child first is open).
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import NotModelled
from reference.block.node import Node


@dataclass(frozen=True)
class Stage:
    """Where the model's checks stood: NODE's prepare (None: the permission stage); INLINE: its
    inline 'file' child's prepare."""

    node: Node | None
    inline: bool


@dataclass(frozen=True)
class OptionErrors:
    """One entry's option errors: the node's own, its inline 'file' child's, whether an inline
    backing child (or its file) has one."""

    own: str | None
    inline_file: str | None
    inline_backing: bool


def first_error(errors: dict[Node, OptionErrors], reached: list[Stage], raised: str) -> str:
    """The error QEMU reports: ERRORS in the queue's order, REACHED the stages the model's checks
    went through (empty: the order is not known), RAISED the error the last stage raised."""
    if not reached:
        raise NotModelled("blockdev-reopen: an option error with another error is not modelled")
    stage = reached[-1]
    for node, found in errors.items():
        if node is stage.node:
            if found.own is not None:
                return found.own
            if found.inline_backing:  # queued under the node: before or after the stage's check
                break
            if stage.inline and found.inline_file is not None:  # its generic options come first
                return found.inline_file
            return raised
        first = found.own or found.inline_file
        if first is not None:
            return first
        if found.inline_backing:  # its message is not kept here
            break
    raise NotModelled("blockdev-reopen: an inline backing child's option error with another error")
