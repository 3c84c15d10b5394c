"""A captured binary's identity and schema (`qconform capture` output) as a ProcessModel.

The data arrives parsed; reading the file is the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference.profiles import Flavour, Profile
from reference.qapi.introspection import SchemaError, load_schema
from reference.qmp.model import ProcessModel, unknown_build_version
from reference.qobject.values import QDict, QObject, qnull

SNAPSHOT_FORMAT = "qconform-snapshot/1"


def to_qobject(value: Any) -> QObject:
    """Parsed JSON (dicts, lists, scalars) to QObject values."""
    if isinstance(value, dict):
        return QDict({key: to_qobject(item) for key, item in value.items()})
    if isinstance(value, list):
        return [to_qobject(item) for item in value]
    if value is None:
        return qnull
    if isinstance(value, (str, int, float, bool)):
        return value
    raise SchemaError(f"not a JSON value: {value!r}")


def process_from_snapshot(
    snapshot: Mapping[str, Any], profile: Profile, *, exact_identity: bool
) -> ProcessModel:
    """Model the captured binary.

    exact_identity: present the captured version (when serving, or when the
    snapshot stands for exactly this build); otherwise only major.minor is
    known and micro/package are wildcards.
    """
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise SchemaError(f"not a {SNAPSHOT_FORMAT} snapshot")
    try:
        flavour = Flavour(snapshot["flavour"])
        introspection = snapshot["query-qmp-schema"]
        commands = [entry["name"] for entry in snapshot["query-commands"]]
        version = snapshot["query-version"]
    except (KeyError, TypeError, ValueError) as err:
        raise SchemaError(f"snapshot lacks or garbles {err}") from None
    schema = load_schema(introspection)
    identity = to_qobject(version) if exact_identity else unknown_build_version(profile)
    assert isinstance(identity, QDict)
    intro = to_qobject(introspection)
    assert isinstance(intro, list)
    return ProcessModel(
        profile=profile,
        flavour=flavour,
        schema=schema,
        introspection=intro,
        command_order=commands,
        version=identity,
    )
