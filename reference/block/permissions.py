"""QEMU's permission check between the users of one node, as far as exports make it visible.

A node's users (QEMU's "parents": exports, format nodes over it as their
'file', a -drive BlockBackend) each take permissions and share others. QEMU
7.2 walks the users newest first, and for each pair (a, b) asks whether a
shares everything b takes; the first pair that fails is the error, naming b
as the one that requires and a as the one that unshares. Pinned on qsd 7.2:
a read-only export next to a writable qcow2 parent (resize), a writable
export next to a qcow2 parent, a qcow2 added over an exported node (write).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.block.other_roles import OTHER_DRIVERS, child_role

CONSISTENT_READ, WRITE, WRITE_UNCHANGED, RESIZE = 1, 2, 4, 8
ALL = CONSISTENT_READ | WRITE | WRITE_UNCHANGED | RESIZE
NAMES = ((CONSISTENT_READ, "consistent read"), (WRITE, "write"), (WRITE_UNCHANGED, "write unchanged"),
         (RESIZE, "resize"))  # fmt: skip
UNNAMED_DEVICE = "an unnamed block device"  # an export's BlockBackend has no name


@dataclass(frozen=True)
class User:
    desc: str  # who, as QEMU names it: "node 'q'", "an unnamed block device"
    role: str  # the child's role: "file", "root"
    perm: int
    shared: int
    seq: int  # when it attached: newer users are checked first


def perm_names(perm: int) -> str:
    return ", ".join(name for bit, name in NAMES if perm & bit)


def first_conflict(node: Node, users: Iterable[User]) -> str | None:
    """QEMU's message for the first pair of users that cannot coexist on the node (None: they can)."""
    ordered = sorted(users, key=lambda user: user.seq, reverse=True)
    for a in ordered:
        for b in ordered:
            if a is b or b.perm & ~a.shared == 0:
                continue
            names = perm_names(b.perm & ~a.shared)
            return (f"Permission conflict on node '{node.name}': permissions '{names}' are both"
                    f" required by {b.desc} (uses node '{node.name}' as '{b.role}' child) and"
                    f" unshared by {a.desc} (uses node '{node.name}' as '{a.role}' child).")  # fmt: skip
    return None


def check(node: Node, users: Iterable[User]) -> None:
    message = first_conflict(node, users)
    if message is not None:
        raise BlockError(message)


def parent_user(parent: Node, users_above: list[User], read_only: bool | None = None) -> User:
    """A format node over `node` as its 'file' child (its backing users are not modelled);
    read_only: the parent's flag after a reopen (default: as it is)."""
    if parent.driver == "qcow2":  # metadata: never shares write or resize; writes and resizes if writable
        writes = 0 if (parent.read_only if read_only is None else read_only) else WRITE | RESIZE
        return User(f"node '{parent.name}'", "file", CONSISTENT_READ | writes, ALL & ~(WRITE | RESIZE),
                    parent.file_seq)  # fmt: skip
    if parent.driver == "raw":  # passes its own users' permissions through unchanged
        return passed_down(f"node '{parent.name}'", "file", users_above, parent.file_seq)
    raise NotModelled(f"permissions of a {parent.driver} node on its file are not modelled")


def passed_down(desc: str, role: str, users_above: list[User], seq: int) -> User:
    """A node handing its users' permissions to its child: all they take, only what they all share."""
    perm, shared = 0, ALL
    for user in users_above:
        perm, shared = perm | user.perm, shared & user.shared
    return User(desc, role, perm, shared, seq)


def export_user(writable: bool, seq: int, shared: int = ALL & ~RESIZE) -> User:
    """An NBD export: reads, writes if writable; shares all but resize (QEMU takes resize away last)."""
    return User(UNNAMED_DEVICE, "root", CONSISTENT_READ | (WRITE if writable else 0), shared, seq)


def users_of(
    node: Node, exports: Iterable[tuple[Node, bool, int]], read_only: Mapping[Node, bool] | None = None
) -> list[User]:
    """Everyone using the node: exports (node, writable, seq), format parents, a -drive BlockBackend;
    read_only: the parents' flags a reopen would set."""
    flags = read_only or {}
    exports = list(exports)
    found = [export_user(writable, seq) for exported, writable, seq in exports if exported is node]
    if node.backend is not None:  # seen on qemu-system 7.2: rw and ro exports of a -drive node both work
        found.append(User(f"block device '{node.backend}'", "root", CONSISTENT_READ, ALL, 0))
    for parent in node.parents:
        if parent.driver in OTHER_DRIVERS:
            role = child_role(parent, node)
            found.append(child_user(parent, role, users_of(parent, exports, flags)))
            continue
        if parent.backing is node and parent.file_child is not node:
            found.append(backing_user(parent, users_of(parent, exports, flags)))
            continue
        if parent.file_child is not node or parent.backing is node:
            raise NotModelled("permissions of job users are not modelled")
        found.append(parent_user(parent, users_of(parent, exports, flags), flags.get(parent)))
    return found


def child_user(parent: Node, role: str, users_above: list[User]) -> User:
    """A quorum, blkverify, blkdebug or throttle node over its child (seen on qsd 7.2): without
    users of its own it takes nothing; quorum never shares write or resize (its children must
    stay alike), the filters share everything. With users, throttle passes their permissions down
    as they are (fixtures/block/cases/throttle-users.json)."""
    if users_above and parent.driver == "throttle":
        return passed_down(f"node '{parent.name}'", role, users_above, parent.file_seq)
    if users_above:
        raise NotModelled(f"permissions of a {parent.driver} node with users of its own are not modelled")
    shared = CONSISTENT_READ | WRITE_UNCHANGED if parent.driver == "quorum" else ALL
    return User(f"node '{parent.name}'", role, 0, shared, parent.file_seq)


def backing_user(parent: Node, users_above: list[User]) -> User:
    """An overlay over its backing node: it reads consistently if its own users do, and shares
    everything while they share write (QEMU's copy-on-write defaults); a backing link that
    unshares write or resize is not modelled."""
    reads = any(user.perm & CONSISTENT_READ for user in users_above)
    if not all(user.shared & WRITE for user in users_above):
        raise NotModelled("permissions of a backing link under users that unshare write are not modelled")
    return User(f"node '{parent.name}'", "backing", CONSISTENT_READ if reads else 0, ALL, parent.file_seq)
