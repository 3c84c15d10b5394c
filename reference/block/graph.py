"""The block graph: blockdev-add and blockdev-del on nodes, in QEMU 7.2's order of checks.

Opening a format node opens (or looks up) its 'file' child first, then
claims the node's name, then opens the driver, then (qcow2) its backing
child: given by name, inline, null, or opened from the header's backing file
name. Whatever a failed blockdev-add created is removed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference.block.add_options import (
    NodeOptions,
    leftover_error,
    node_fields,
    open_options,
    plain_options,
    zeroes_error,
)  # fmt: skip
from reference.block.devices import Devices
from reference.block.errors import BlockError, NotModelled
from reference.block.guest_writes import GuestWrites
from reference.block.job import Job
from reference.block.names import check_new_name, lookup_error
from reference.block.nbd import open_nbd
from reference.block.node import Node, stamp_opened
from reference.block.options import (
    BACKING_DEFAULTS,
    FORMATS,
    PLAIN_KEYS,
    Flags,
    driver_of,
    resolve_flags,
    text_option,
)  # fmt: skip
from reference.block.other_drivers import FILE_FIRST, open_other, record_options
from reference.block.other_roles import OTHER_DRIVERS
from reference.block.permissions import check, parent_user, users_of
from reference.block.qemu_io_report import OutputLine
from reference.block.raw_window import open_window
from reference.block.storage import FileFacts, StorageFacts
from reference.profiles import QEMU_7_2, Profile
from reference.qobject.patterns import ANY_INT
from reference.qobject.values import QDict, QNull

if TYPE_CHECKING:
    from reference.block.exports import Export

NULL_CO_SIZE = 1 << 30  # null-co's default size


class BlockGraph:
    def __init__(self, storage: StorageFacts, profile: Profile = QEMU_7_2) -> None:
        self.storage = storage
        self.profile = profile  # whose query output to model (reference/block/query.py)
        self.nodes: list[Node] = []  # in the order QEMU registered them
        self._auto_names = 0
        self._events: list[tuple[str, QDict, str]] = []  # predicted events not yet handed out, with when
        # NBD clients the harness connected, by its label: the export each reached (None: cut off).
        # A fact about the world the harness supplies, never read from QEMU's answers.
        self.clients: dict[str, Export | None] = {}
        self.jobs: dict[str, Job] = {}  # jobs waiting for the monitor, by id
        self.nbd_socket: str | None = None  # the NBD server's unix socket (None: not running)
        self.exports: list[Export] = []  # block exports, newest first
        # What the process prints on its standard output for the current command (HMP qemu-io's
        # report), None: not predicted. Handed out with take_output.
        self.output: list[OutputLine] | None = None
        self.throttle_groups: list[str] = []  # throttle-group objects' ids (throttle_groups.py)
        self.guest_writes = GuestWrites()  # what HMP qemu-io wrote, for later reads
        self._seq = 0  # counts attachments of users to nodes (permission checks go newest first)
        self.devices = Devices()  # guest devices and AioContexts (qemu-system with a PCI bus)
        self.left_writable: set[Node] = set()  # reference/block/stream_read_only.py (10.0 on)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def export_users(self) -> list[tuple[Node, bool, int]]:
        return [(export.node, export.writable, export.seq) for export in self.exports]

    def has_writer(self, node: Node) -> bool:
        """Someone writes through the node: a writable export, a writable qcow2, a raw or throttle
        node passing one on."""
        if any(export.writable and export.node is node for export in self.exports):
            return True
        return any(
            parent.file_child is node
            and (
                (parent.driver == "qcow2" and not parent.read_only)
                or (parent.driver in ("raw", "throttle") and self.has_writer(parent))
            )
            for parent in node.parents
        )

    def exported(self, node: Node) -> bool:
        return any(export.node is node for export in self.exports)

    def clients_of(self, export: Export) -> int:
        return sum(1 for reached in self.clients.values() if reached is export)

    def emit(self, name: str, data: QDict, when: str = "either") -> None:
        """when: "before" or "after" the command's reply, or "either" (not pinned: a job's events)."""
        self._events.append((name, data, when))

    def take_events(self) -> list[QDict]:
        """The events predicted since the last call (timestamps are wildcards: QEMU's clock)."""
        return [event for event, _when in self.take_timed_events()]

    def take_timed_events(self) -> list[tuple[QDict, str]]:
        """take_events with each event's place relative to the reply ("before", "after", "either")."""
        stamp = QDict({"seconds": ANY_INT, "microseconds": ANY_INT})
        events = [(QDict({"event": name, "timestamp": stamp, "data": data}), when)
                  for name, data, when in self._events]  # fmt: skip
        self._events = []
        return events

    def take_output(self) -> list[OutputLine] | None:
        output, self.output = self.output, None
        return output

    def find(self, name: str) -> Node | None:
        return next((node for node in self.nodes if node.name == name), None)

    # blockdev-add

    def add(self, opts: QDict) -> None:
        if self.jobs:  # QEMU drains the job's nodes: it pauses and resumes, with events
            raise NotModelled("blockdev-add while a block job runs is not modelled")
        if "node-name" not in opts:
            raise BlockError("'node-name' must be specified for the root node")
        created: list[Node] = []
        try:
            root = self.open_root(opts, created)
        except (BlockError, NotModelled):
            self._forget(created)
            raise
        root.monitor_owned = True

    def open_root(self, opts: QDict, created: list[Node]) -> Node:
        """A root node and the nodes it opens with itself (appended to `created`), stamped once opened.

        While they open, their fields are set unstamped (Node.set_unstamped):
        a dozen stamped writes per qcow2 chain were a tenth of its add.
        """
        root = self._open(opts, Flags(), created, None)
        stamp_opened(created)
        return root

    def _open(
        self, opts: QDict, inherited: Flags, created: list[Node], parent: Node | None,
        handed: NodeOptions | None = None,
    ) -> Node:  # fmt: skip
        """handed: the options of the parent opening the node with itself (inline or from its header)."""
        driver = opts.get("driver")
        plain = isinstance(driver, str) and opts.unordered_keys() <= PLAIN_KEYS.get(driver, frozenset())
        if plain:  # nothing of its own but its name and file: what it inherits, no option to check
            assert isinstance(driver, str)
            flags, options = inherited, plain_options(handed)
        else:
            driver = driver_of(opts)
            flags, options = resolve_flags(opts, inherited), open_options(opts, handed)
        file_first = driver in FORMATS or driver in FILE_FIRST  # opened before the node takes its name
        child = self._open_child(opts.get("file"), flags, created, options) if file_first else None
        refused = None if plain else zeroes_error(options)
        if refused:  # checked after the 'file' child opened, before the name is claimed
            raise BlockError(refused)
        name = opts.get("node-name")
        if isinstance(name, str):
            check_new_name(name, {node.name for node in self.nodes}, self.profile)
        else:
            name = self.next_auto_name()
        auto_named = not isinstance(opts.get("node-name"), str)
        # set as the node is made: each write after it would stamp the node anew
        node = Node(
            name, auto_named, driver, "", *_flags(flags),
            auto_number=self._auto_names - 1 if auto_named else None,
            read_only_explicit="read-only" in opts, auto_read_only_explicit="auto-read-only" in opts,
            inherits_from=parent, inactive=self.devices.incoming, opening=True, **node_fields(options),
        )  # fmt: skip
        self.nodes.append(node)
        created.append(node)
        if driver == "file":
            self._open_file(node, text_option(opts, "filename"))
        elif driver == "nbd":
            open_nbd(node, opts, self.storage)
        elif driver == "null-co":
            node.filename = "null-co://"
            node.facts = null_facts()
        elif driver in OTHER_DRIVERS:
            if driver == "throttle" and child is not None and isinstance(opts.get("file"), QDict):
                child.set_unstamped(inherits_from=node)  # a reopen takes it along (throttle_users.py)
            opener = lambda ref, fl: self._open_child(ref, fl, created, options)  # noqa: E731
            open_other(self, node, opts, flags, opener, child)
        else:
            assert child is not None
            if child.inherits_from is None and isinstance(opts.get("file"), QDict):
                child.set_unstamped(inherits_from=node)  # opened inline: new too
            self._attach(node, child)
            if driver == "raw":
                open_window(node, opts)
        if driver == "qcow2":
            try:
                self._open_backing(node, opts, created, options)
            except BlockError as err:
                raise BlockError(f"Could not open backing file: {err.desc}", err.error_class) from None
        if not plain:
            leftover = leftover_error(driver, opts)
            if leftover:  # checked last, once the node and its children opened
                raise BlockError(leftover)
            record_options(node, opts)
        return node

    def _open_backing(self, node: Node, opts: QDict, created: list[Node], options: NodeOptions) -> None:
        assert node.image is not None
        header = node.image.backing_file or ""
        given = opts.get("backing")
        if "backing" not in opts:
            if not header:
                return
            child = self._open(self._header_backing(node), BACKING_DEFAULTS, created, node, options)
            auto_backing_file = child.filename
        elif isinstance(given, QNull):
            node.set_unstamped(auto_backing_file=header)
            return
        elif isinstance(given, str):
            found = self.find(given)
            if found is None or found is node:
                raise NotModelled("blockdev-add: a backing reference to an unknown node is not modelled")
            child = found
            auto_backing_file = header
        else:
            assert isinstance(given, QDict), "the input visitor checked 'backing'"
            child = self._open(given, BACKING_DEFAULTS, created, node, options)
            auto_backing_file = header
        child.parents.append(node)
        node.set_unstamped(auto_backing_file=auto_backing_file, backing=child)
        child.blockers.insert(0, backing_blocker(node))

    def _header_backing(self, node: Node) -> QDict:
        image = node.image
        assert image is not None
        if image.backing_format not in FORMATS or image.full_backing_file is None:
            raise NotModelled("blockdev-add: probing the backing file's format is not modelled")
        file = QDict({"driver": "file", "filename": image.full_backing_file})
        return QDict({"driver": image.backing_format, "file": file})

    def _open_child(self, ref: object, flags: Flags, created: list[Node], options: NodeOptions) -> Node:
        if isinstance(ref, str):
            found = self.find(ref)
            if found is None:
                raise lookup_error(self.profile, ref, ref)
            return found
        assert isinstance(ref, QDict), "the input visitor checked 'file'"
        return self._open(ref, flags, created, None, options)

    def _shares_file(self, node: Node) -> bool:
        return any(o is not node and o.driver == "file" and o.filename == node.filename for o in self.nodes)

    def _open_file(self, node: Node, filename: str) -> None:
        # Image locking (a qcow2 node's file opened twice) is not modelled.
        if any(p.driver == "qcow2" for o in self.nodes if o.filename == filename for p in o.parents):
            raise NotModelled("blockdev-add: a qcow2 image opened twice (image locking) is not modelled")
        # file-posix (4.0+): with auto-read-only it opens read-only and goes
        # read-write only when a writer attaches; the node itself stays writable.
        write = not node.read_only and not node.auto_read_only
        error = self.storage.open_error(filename, write)
        if error is not None:
            raise BlockError(f"Could not open '{filename}': {error}")
        node.set_unstamped(filename=filename, facts=self.storage.file(filename))

    def _attach(self, parent: Node, child: Node) -> None:
        if child.driver != "file" and parent.driver == "qcow2":
            raise NotModelled("blockdev-add: qcow2 over a format node is not modelled")
        parent.set_unstamped(file_seq=self.next_seq())  # the permission checks below order users by it
        if any(export.node is child for export in self.exports):  # qsd 7.2: the new parent is checked first
            check(child, [*users_of(child, self.export_users()), parent_user(parent, [])])
        if parent.wants_write_on_file():
            self._grant_write(child)
        if any(_conflict(parent, other) or _conflict(other, parent) for other in child.parents):
            raise NotModelled("blockdev-add: permission conflicts are not modelled")
        child.parents.append(parent)
        parent.set_unstamped(file_child=child, filename=child.filename, facts=child.facts)
        if parent.driver == "qcow2":
            self._read_qcow2_header(parent)
            if self._shares_file(child):
                raise NotModelled("blockdev-add: a qcow2 image opened twice (image locking) is not modelled")

    def _grant_write(self, child: Node) -> None:
        if child.read_only:
            raise BlockError("Block node is read-only")
        if child.auto_read_only and not any(p.wants_write_on_file() for p in child.parents):
            error = self.storage.open_error(child.filename, True)
            if error is not None:
                raise BlockError(f"Could not open '{child.filename}': {error}")

    def _read_qcow2_header(self, node: Node) -> None:
        image = self.storage.image(node.filename)
        if image is None or image.format != "qcow2":
            raise BlockError("Image is not in qcow2 format")
        node.image = image

    def refresh_facts(self, node: Node) -> None:
        """Re-read a node's file (and header) after a job (or HMP qemu-io) wrote it."""
        if node.stale:  # a job's writes are not modelled: its data is read again when needed
            self.guest_writes.forget(node.filename)
        node.stale = node.written = False
        if node.driver in ("null-co", "nbd"):  # nothing a job here could have changed
            return
        node.facts = self.storage.file(node.filename)
        if node.driver == "qcow2":
            node.image = self.storage.image(node.filename)

    def _forget(self, created: list[Node]) -> None:
        gone = set(created)
        self.nodes = [node for node in self.nodes if node not in gone]
        for node in created:  # as _drop does, so the failed add leaves no cyclic garbage
            node.__dict__["inherits_from"] = None
            node.parents.clear()
        for node in self.nodes:
            for parent in node.parents:
                if parent in gone and parent.backing is node:
                    self.unblock_backing(node, parent)
            node.parents = [p for p in node.parents if p not in gone]

    # blockdev-del

    def delete(self, name: str) -> None:
        node = self.find(name)
        if node is None:
            raise BlockError(f"Failed to find node with node-name='{name}'")
        # A BlockBackend on the node (-drive's, an export's, a job's) is checked first.
        if (
            node.backend is not None
            or self.exported(node)
            # a stream's BlockBackend is on its filter: its device shows the op blocker
            or any(job.base is node and getattr(job, "kind", "") != "stream" for job in self.jobs.values())
        ):
            raise BlockError(f"Node {name} is in use")
        if node.blockers:
            if "#" in node.blockers[0]:
                raise NotModelled("blockdev-del: a blocker naming an auto-named node is not modelled")
            raise BlockError(f"Node '{name}' is busy: {node.blockers[0]}")
        if self.jobs:
            raise NotModelled("blockdev-del while a block job runs is not modelled")
        if not node.monitor_owned:
            raise BlockError(f"Node {name} is not owned by the monitor")
        if node.parents:
            raise BlockError(f"Block device {name} is in use")
        self._drop(node)

    def drop(self, node: Node) -> None:
        self._drop(node)

    def unblock_backing(self, child: Node, parent: Node) -> None:
        child.blockers.remove(backing_blocker(parent))

    def next_auto_name(self) -> str:
        """QEMU's next "#block" name (less its random digits): each unnamed node takes one, a job's
        implicit filter too, shown or not (qsd 7.2: a commit_top, a stream's copy-on-read)."""
        self._auto_names += 1
        return f"#block{self._auto_names}"  # the model's name; QEMU's counter is one lower

    def add_filter(
        self, driver: str, below: Node, name: str | None = None, auto_name: str | None = None
    ) -> Node:
        """A job's filter node (newest; auto-named unless NAME: AUTO_NAME if it took its number
        already) above `below`, which has no other parent."""
        given = name or auto_name or self.next_auto_name()
        node = Node(given, name is None, driver, below.filename, False, False)
        if name is None:
            node.auto_number = int(given.removeprefix("#block")) - 1
        node.filter_of, node.backing, node.facts = below, below, below.facts
        below.parents.append(node)
        self.nodes.append(node)
        return node

    def remove_filter(self, node: Node) -> None:
        assert node.filter_of is not None and node.backing is node.filter_of
        node.backing.parents.remove(node)
        self.nodes.remove(node)

    def _drop(self, node: Node) -> None:
        self.nodes.remove(node)
        # An inline child points back at the parent it inherits from: without this, each dropped
        # chain would be cyclic garbage, freed only by the collector (~170 µs a collection).
        # Written unstamped: a node no longer in the graph is not reported, so nothing changed.
        node.__dict__["inherits_from"] = None
        if node.backing is not None:
            self.unblock_backing(node.backing, node)
        for child in node.children():
            child.parents.remove(node)
            # qsd 7.2: an exported child outlives its parent until its export goes
            if not child.parents and not child.monitor_owned and not self.exported(child):
                self._drop(child)


def _descendants(node: Node) -> list[Node]:
    found = []
    for child in node.children():
        found += [child, *_descendants(child)]
    return found


def backing_blocker(parent: Node) -> str:
    return f"node is used as backing hd of '{parent.name}'"


def _flags(flags: Flags) -> tuple[bool, bool]:
    return flags.read_only, flags.auto_read_only


def _conflict(user: Node, other: Node) -> bool:
    return user.wants_write_on_file() and other.unshares_write_on_file()


def null_facts() -> FileFacts:
    return FileFacts(size=NULL_CO_SIZE, allocated=0)
