"""One block node as the model keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.block.storage import FileFacts, ImageFacts


@dataclass(eq=False)
class Node:
    name: str
    auto_named: bool  # QEMU made the name up ("#block" + counter + random digits)
    driver: str
    filename: str
    read_only: bool
    auto_read_only: bool
    file_child: Node | None = None
    monitor_owned: bool = False  # added by blockdev-add as a root: blockdev-del may remove it
    parents: list[Node] = field(default_factory=list)
    facts: FileFacts | None = None  # the protocol file's facts (file nodes and their parents)
    image: ImageFacts | None = None  # the format header (qcow2 nodes)
    backing: Node | None = None
    # What QEMU compares the backing node's filename with to decide whether the
    # chain was overridden (then the filename becomes "json:{...}"): the
    # header's string when the backing was given, the opened file's name when
    # QEMU opened it from the header itself.
    auto_backing_file: str = ""
    read_only_explicit: bool = False  # set by the node's own options (reopen keeps it)
    auto_read_only_explicit: bool = False
    inherits_from: Node | None = None  # the parent whose options an inline/implicit child took
    stale: bool = False  # a job wrote the file: re-read its facts before reporting them
    # QEMU's op blockers on the node, newest first: the first is the one an error names.
    blockers: list[str] = field(default_factory=list)
    filter_of: Node | None = None  # a job's filter node: the node it sits above
    job_bitmap: int | None = None  # granularity of a mirror job's (anonymous, clean) dirty bitmap on it
    backend: str | None = None  # the -drive BlockBackend holding the node (query-block's "device")
    file_seq: int = 0  # when the node took its 'file' child (permission checks go newest first)

    def wants_write_on_file(self) -> bool:
        # qcow2 keeps metadata in its file: a writable qcow2 node writes there.
        # raw passes its users' permissions through, and blockdev-add gives it none.
        return self.driver == "qcow2" and not self.read_only

    def unshares_write_on_file(self) -> bool:
        # Nobody else may write to or resize a qcow2 node's file, read-only or not.
        return self.driver == "qcow2"

    def children(self) -> list[Node]:
        return [child for child in (self.file_child, self.backing) if child is not None]
