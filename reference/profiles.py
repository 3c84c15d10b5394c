"""What differs between QEMU versions and binaries, as data.

A Profile is looked up by name ("7.2", "3.1"); a Flavour says which binary's
behaviour is modelled (qemu-storage-daemon or qemu-system). Neither holds the
command set: that comes from a schema (see reference.qmp.schema).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


class Flavour(Enum):
    STORAGE_DAEMON = "qsd"
    SYSTEM = "qemu-system"


@dataclass(frozen=True)
class Profile:
    name: str
    major: int
    minor: int
    # Capabilities a monitor on a unix socket offers in its greeting.
    offered_capabilities: tuple[str, ...]
    # 3.1 said GenericError "The command %s has been disabled for this instance".
    disabled_command_class: str
    disabled_command_message: str
    # Enum rejection in the input visitor.
    enum_message: str
    # Why the oracle abstains on JSON parse errors for this version, if it does.
    json_errors_unmodelled: str = ""
    # Whose JSON streamer and parser errors to model: "7.2" or "11.1"
    # (11.1 locates its errors and skips after a nesting-limit error).
    json_dialect: str = "7.2"
    # migrate_set_parameter names HMP no longer takes: "Error: invalid parameter value: NAME".
    removed_migrate_parameters: tuple[str, ...] = ()
    # How qemu_strtosz reads sizes: "7.2" or "8.1" (see reference.qapi.strtosz).
    size_dialect: str = "7.2"
    # query-named-block-nodes (BlockDeviceInfo, ImageInfo) as the version's schema has it:
    # 10.0 adds "active" after backing_file_depth and puts format-specific before
    # backing-image; 11.1 adds "children" before "active" and ImageInfo's "limits".
    node_info_active: bool = False
    node_info_children: bool = False
    image_limits: bool = False
    format_specific_first: bool = False
    # 10.0's file driver reports format-specific {"type": "file", "data": {}} for a regular file.
    file_format_specific: bool = False
    # 5.2's BlockDeviceInfo still has the deprecated "encryption_key_missing" (always false).
    node_info_key_missing: bool = False
    # Before 6.1 the command is x-blockdev-reopen, its arguments one node's BlockdevOptions;
    # its own errors are worded as 5.2 words them (seen on qsd and qemu-system 5.2).
    reopen_command: str = "blockdev-reopen"
    reopen_no_name_message: str = "node-name not specified"
    reopen_not_found_message: str = "Failed to find node with node-name='{name}'"
    # Commands declared 'gen': false (introspection does not say so): their handler reads the
    # raw QDict, not the input visitor (device_add answers {"driver": 5} with "'5' is not a
    # valid device model name"), so dispatch abstains on them. object-add was one until 6.0
    # made it a union on qom-type (5.2 answers a non-string qom-type with "Parameter 'qom-type'
    # is missing"), and so was query-qmp-schema (5.2 ignores its arguments: {"zz": 1} gets the
    # schema, not "Parameter 'zz' is unexpected"). Seen on qsd and qemu-system 5.2.0.
    unvisited_commands: frozenset[str] = frozenset({"device_add"})
    # How the JSON writer prints a double: "%.17g" (6.0 on), or "%f" less trailing zeros and
    # dot (before 6.0; seen on qsd and qemu-system 5.2, tests/property/test_double_output.py).
    double_format: str = "%.17g"
    # 5.2's block-export-del emits BLOCK_EXPORT_DELETED after its reply even with no client.
    export_deleted_after_reply: bool = False
    # Node-name errors and the device-or-node lookup error as the version words them.
    invalid_node_name_message: str = "Invalid node-name: '{name}'"
    duplicate_node_name_message: str = "Duplicate nodes with node-name='{name}'"
    lookup_message: str = "Cannot find device='{device}' nor node-name='{name}'"
    # qemu-system 5.2 answers quit first and reports SHUTDOWN after (7.2: the event first).
    shutdown_after_quit_reply: bool = False
    # object-del of a throttle group a throttle node uses (11.1's words seen on qsd@sid).
    throttle_group_in_use_message: str = "object '{id}' is in use, can not be deleted"
    # device_add virtio-scsi with "iothread": null: 7.2 takes it as no iothread (the main loop),
    # 10.0 and 11.1 refuse it: "Invalid parameter type for 'iothread', expected: string" ("" is the
    # main loop in all three). A scsi-hd on a virtio-scsi without iothread: 7.2 will not move it to
    # another AioContext, 10.0 and 11.1 do (fixtures/block/scenarios.json iotest-245-iothreads-*).
    iothread_null_refused: bool = False
    main_loop_disks_move: bool = False
    # Where an active commit's (mirror's) dirty bitmap shows in query-named-block-nodes: 7.2 on
    # the top, recording; 10.0 and 11.1 on the mirror_top filter, not recording (the filter
    # marks the writes itself). Seen on qsd@trixie and qsd@sid: regression-commit-* cases.
    mirror_bitmap_on_filter: bool = False
    # A stream of a read-only device makes it read-only again when it ends (7.2); 10.0 and 11.1
    # leave it read-write (reference/block/stream_read_only.py).
    stream_restores_read_only: bool = True
    # A rate-limited block job woken early (resume, a raised speed) copies one more chunk before
    # it sleeps again (7.2); from 8.0 on it sleeps out the rest of its delay, so a slow commit
    # stays at its first chunk (seen on qsd@trixie and qsd@sid: reference/block/rate_limited_commit.py).
    limited_job_wake_up_copies: bool = True
    # Whether a zero write's may-unmap flag needs discard=unmap on the node it is sent to as well
    # as on each node below it that it passes through: 7.2 checks only the nodes below (so HMP
    # qemu-io `write -z -u` on a qcow2 node frees its clusters whatever the node's discard); 10.0
    # and 11.1 check the node written to too (reference/block/qcow2_hosting.py; compress-filter.json).
    zero_unmap_own_discard: bool = False


QEMU_7_2 = Profile(
    name="7.2",
    major=7,
    minor=2,
    offered_capabilities=("oob",),
    disabled_command_class="CommandNotFound",
    disabled_command_message="Command {command} has been disabled{sep}{reason}",
    enum_message="Parameter '{name}' does not accept value '{value}'",
)

# Seen on qemu-system 10.0.13 and 11.1.3 (tests/property/test_cli_visitors.py): compress-level
# is gone (the compress migration was removed in 9.1); qemu_strtosz is 8.1's rewrite: "0x1k" is
# invalid without a warning, "-1" and "-0" are out of range, ".5k" reads as 512.
_AFTER_8 = {
    "removed_migrate_parameters": ("compress-level",),
    # Seen on qsd 10.0.13 and 11.1.3 (tests/block/test_nbd_client_table.py).
    "node_info_active": True,
    "format_specific_first": True,
    "file_format_specific": True,
    "size_dialect": "8.1",
    # Seen on qemu-system 10.0.13 and 11.1.3 (iotest-245-iothreads-* scenarios).
    "iothread_null_refused": True,
    "main_loop_disks_move": True,
    "mirror_bitmap_on_filter": True,
    "stream_restores_read_only": False,
    "limited_job_wake_up_copies": False,
    # Seen on qemu-system 10.0.13 and 11.1.3 (compress-filter.json compress-filter-unmap-*).
    "zero_unmap_own_discard": True,
}

# x-blockdev-reopen (4.0 to 6.0; renamed blockdev-reopen, with a list of entries, in 6.1).
_BEFORE_6_1 = {
    "reopen_command": "x-blockdev-reopen",
    "reopen_no_name_message": "Node name not specified",
    "reopen_not_found_message": "Cannot find node named '{name}'",
}

PROFILES: dict[str, Profile] = {
    "7.2": QEMU_7_2,
    # Later versions word things as 7.2 does until a case shows otherwise.
    "10.0": replace(QEMU_7_2, name="10.0", major=10, minor=0, **_AFTER_8),  # type: ignore[arg-type]
    "11.1": replace(
        QEMU_7_2,
        name="11.1",
        major=11,
        minor=1,
        json_dialect="11.1",
        node_info_children=True,
        image_limits=True,
        throttle_group_in_use_message="Cannot delete throttle group '{id}' with active references",
        **_AFTER_8,  # type: ignore[arg-type]
    ),
    # Seen on qsd and qemu-system 5.2.0 (Debian bullseye): tests/block/test_x_blockdev_reopen.py.
    "5.2": replace(
        QEMU_7_2,
        name="5.2",
        major=5,
        minor=2,
        node_info_key_missing=True,
        export_deleted_after_reply=True,
        double_format="%f",
        unvisited_commands=frozenset({"device_add", "object-add", "query-qmp-schema"}),
        enum_message="Invalid parameter '{value}'",
        # Seen on qsd and qemu-system 5.2.0 (fixtures/block/scenarios.json iotest-249,
        # iotest-249-more and iotest-247 on qemu-system@bullseye; tests/block/test_profile_messages.py).
        invalid_node_name_message="Invalid node name",
        duplicate_node_name_message="Duplicate node name",
        lookup_message="Cannot find device={device} nor node_name={name}",
        shutdown_after_quit_reply=True,
        **_BEFORE_6_1,  # type: ignore[arg-type]
    ),
    "3.1": replace(
        QEMU_7_2,
        name="3.1",
        major=3,
        minor=1,
        disabled_command_class="GenericError",
        disabled_command_message="The command {command} has been disabled for this instance",
        enum_message="Invalid parameter '{value}'",
    ),
}

DEFAULT_PROFILE = "7.2"


class UnknownProfile(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(p.name for p in sorted(PROFILES.values(), key=lambda p: (p.major, p.minor)))
        raise UnknownProfile(f"unknown profile '{name}' (known: {known})") from None


def profile_for_version(major: int, minor: int) -> Profile | None:
    """The profile that models a binary of this version, if there is one."""
    for profile in PROFILES.values():
        if (profile.major, profile.minor) == (major, minor):
            return profile
    return None
