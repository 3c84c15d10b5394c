"""The state one QEMU process shares between its monitors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reference.block.graph import BlockGraph
from reference.block.storage import StorageFacts
from reference.profiles import Flavour, Profile
from reference.qapi.introspection import Schema
from reference.qobject.patterns import ANY_INT, ANY_STRING
from reference.qobject.values import QDict, QObject


def version_dict(major: QObject, minor: QObject, micro: QObject, package: QObject) -> QDict:
    """query-version's return value, built the way QEMU builds it."""
    return QDict({"qemu": QDict({"major": major, "minor": minor, "micro": micro}), "package": package})


def unknown_build_version(profile: Profile) -> QDict:
    """What the oracle knows of a binary of this profile: major and minor only."""
    return version_dict(profile.major, profile.minor, ANY_INT, ANY_STRING)


@dataclass
class ProcessModel:
    """One modelled QEMU process: its identity, schema and lifetime."""

    profile: Profile
    flavour: Flavour
    schema: Schema
    # query-qmp-schema's return value and query-commands' order, as the binary has them.
    introspection: list[QObject]
    command_order: Sequence[str]
    version: QDict
    # None when predicting: the oracle cannot know when QEMU stamps an event.
    clock: Callable[[], float] | None = None
    running: bool = True
    disabled: dict[str, str | None] = field(default_factory=dict)
    # The block graph; None (no nodes, blockdev-add not modelled) until storage facts are given.
    block: BlockGraph | None = None

    def attach_storage(self, storage: StorageFacts) -> BlockGraph:
        """Model a process that sees this storage: a fresh, empty block graph."""
        self.block = BlockGraph(storage, self.profile)
        return self.block

    def timestamp(self) -> QDict:
        if self.clock is None:
            return QDict({"seconds": ANY_INT, "microseconds": ANY_INT})
        now = self.clock()
        seconds = int(now)
        return QDict({"seconds": seconds, "microseconds": round((now - seconds) * 1e6) % 1000000})

    def event(self, name: str, data: QDict | None = None) -> QDict:
        body = QDict({"event": name, "timestamp": self.timestamp()})
        if data is not None:
            body.put("data", data)
        return body
