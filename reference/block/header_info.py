"""The ImageInfo members a format header decides, written when the header is read.

A node's header (ImageFacts) is read when the node opens and replaced only
when it is read again; what query-named-block-nodes shows of it is the same
for every query until then, so Node makes it as the header is set, as
values and as JSON texts, and the query only copies them into its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference.block.json_templates import Templates
from reference.block.storage import ImageFacts
from reference.qobject.json_writer import quote, to_json
from reference.qobject.values import FrozenQDict, QObject, qnull

# Bits of ImageInfo's shape (reference/block/query.py) for the header's optional members.
CLUSTER_SIZE, BACKING_FILENAME, FULL_BACKING_FILENAME, BACKING_FORMAT = 4, 8, 16, 32


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    # virtual-size up to backing-filename-format, in schema order, and their JSON texts
    values: dict[str, QObject]
    texts: tuple[str, ...]  # in the same order
    shape: int  # which of the optional ones are there
    specific: FrozenQDict | None  # ImageInfoSpecific, its text written


def header_info(header: ImageFacts) -> HeaderInfo:
    size = header.virtual_size
    values: dict[str, QObject] = {"virtual-size": size}
    texts = [str(size)]
    shape = 0
    if header.cluster_size:
        shape |= CLUSTER_SIZE
        values["cluster-size"] = header.cluster_size
        texts.append(str(header.cluster_size))
    if header.backing_file:
        shape |= BACKING_FILENAME
        values["backing-filename"] = header.backing_file
        texts.append(quote(header.backing_file))
        if header.full_backing_file is not None:
            shape |= FULL_BACKING_FILENAME
            values["full-backing-filename"] = header.full_backing_file
            texts.append(quote(header.full_backing_file))
        if header.backing_format is not None:
            shape |= BACKING_FORMAT
            values["backing-filename-format"] = header.backing_format
            texts.append(quote(header.backing_format))
    specific = None if header.format_specific is None else shared_object(header.format_specific)
    return HeaderInfo(values, tuple(texts), shape, specific)


# The infos made per header object: a header the harness read once (the facts it serves again,
# a chain's base opened from every add's top) is made into members once. Each entry holds its
# header, so an id is not reused while it is kept.
_made: dict[int, tuple[ImageFacts, HeaderInfo]] = {}
_MADE_LIMIT = 256


def kept_header_info(header: ImageFacts) -> HeaderInfo:
    """header_info(header), made once per header object (ImageFacts is frozen)."""
    kept = _made.get(id(header))
    if kept is not None and kept[0] is header:
        return kept[1]
    info = header_info(header)
    if len(_made) >= _MADE_LIMIT:  # headers read anew (after jobs, fuzzed) must not grow it without bound
        _made.clear()
    _made[id(header)] = (header, info)
    return info


# ImageInfoSpecific by content: images made by one qemu-img mostly share it (qcow2's compat,
# refcount bits, compression type...), so a header read anew seldom needs it written again.
_shared: dict[str, FrozenQDict] = {}
_SHARED_LIMIT = 256


def shared_object(value: dict[str, Any]) -> FrozenQDict:
    """frozen_object(value), one for all equal values: frozen answers may share what they hold."""
    # repr() of parsed JSON tells every value and type apart (True from 1, -0.0 from 0.0)
    # except a NaN's sign, which the writer shows: those are not shared.
    key = repr(value)
    shared = _shared.get(key)
    if shared is None:
        shared = frozen_object(value)
        if "nan" not in key:
            if len(_shared) >= _SHARED_LIMIT:  # fuzzed headers must not grow it without bound
                _shared.clear()
            _shared[key] = shared
    return shared


PLAIN_OBJECTS = Templates({})


def frozen_object(value: dict[str, Any]) -> FrozenQDict:
    """A parsed JSON object as a FrozenQDict, its text written on the way (the header's facts are such)."""
    values: dict[str, QObject] = {}
    texts: dict[str, str] = {}
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            values[key], texts[key] = item, quote(item)
        elif kind is bool:
            values[key], texts[key] = item, "true" if item else "false"
        elif kind is int:
            values[key], texts[key] = item, str(item)
        elif kind is dict:
            inner = values[key] = frozen_object(item)
            texts[key] = inner.text or to_json(inner)
        else:  # lists, null, floats: rare in a header, written by the writer
            values[key] = frozen_qobject(item)
            texts[key] = to_json(values[key])
    return PLAIN_OBJECTS.freeze(values, texts, tuple(values))


def frozen_qobject(value: Any) -> Any:
    """Parsed JSON (as StorageFacts hands it over) to QObject values, its objects frozen (kept in answers)."""
    if isinstance(value, dict):
        return FrozenQDict({key: frozen_qobject(item) for key, item in value.items()})
    if isinstance(value, list):
        return [frozen_qobject(item) for item in value]
    if value is None:
        return qnull
    assert isinstance(value, (str, int, float, bool))
    return value
