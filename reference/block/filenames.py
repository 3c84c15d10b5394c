"""The filename QEMU reports for a node: the file's path, or "json:{...}" once a backing chain was overridden.

QEMU 7.2 compares a qcow2 node's backing node's filename with the string it
expected (the header's, or the file it opened from the header itself); any
difference, or backing: null over a header that names a backing file, makes
the node's filename its open options as JSON (verified on qsd 7.2).
"""

from __future__ import annotations

from reference.block.compress_query import over_format
from reference.block.node import Node
from reference.block.other_roles import special
from reference.block.raw_window import has_window
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict, qnull

JSON_PREFIX = "json:"


def backing_overridden(node: Node) -> bool:
    if node.backing is not None:
        return node.auto_backing_file != display_filename(node.backing)
    return bool(node.auto_backing_file)


def display_filename(node: Node) -> str:
    if special(node):
        # here: its names are built from this module's ("import ... as": no Python-level fromlist step)
        import reference.block.other_query as other_query

        return other_query.special_filename(node)
    if node.filter_of is not None and node.file_child is None:  # a job's filter: the filtered node's name
        return display_filename(node.filter_of)
    if node.driver == "file" or node.file_child is None:
        return node.filename
    below = display_filename(node.file_child)  # once: a chain's filenames nest
    over = node.driver == "raw" and over_format(node)  # (a raw node over a format node or a filter)
    if backing_overridden(node) or has_window(node) or below.startswith(JSON_PREFIX) or over:
        return JSON_PREFIX + to_json(open_options(node))
    return below


def open_options(node: Node) -> QDict:
    if special(node):
        import reference.block.other_query as other_query

        return other_query.special_options(node)
    options = QDict()
    if backing_overridden(node):
        options.put("backing", open_options(node.backing) if node.backing is not None else qnull)
    options.put("driver", node.driver)
    if has_window(node):
        if "offset" in node.raw_given:
            options.put("offset", node.raw_offset)
        if "size" in node.raw_given and node.raw_size is not None:
            options.put("size", node.raw_size)
    if node.driver == "file":
        options.put("filename", node.filename)
    elif node.file_child is not None:
        options.put("file", open_options(node.file_child))
    return options
