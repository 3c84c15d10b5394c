"""query-named-block-nodes for quorum, blkverify, blkdebug, throttle and sized null-co nodes.

Verified on qsd and qemu-system 7.2, and on qsd 10.0 and 11.1 (the same, plus 11.1's "limits")
(fixtures/block/cases/reopen-245-drivers.json, tests/block/test_block_cases_versions.py):

- filename: throttle and quorum always show their options as json:{...} (the group and the
  vote threshold are options no plain name carries), their children's open options inside
  (node names left out); null-co with a size json:{"driver": "null-co", "size": N};
  blkdebug "blkdebug:CONFIG:CHILD" with a config and no align, json:{...} with an align and
  no config or over a child named json:{...}; blkverify "blkverify:RAW:TEST".
- ImageInfo: the size is the first data child's (quorum's first child, blkverify's 'test');
  get_info (dirty-flag, cluster-size) passes through the filters to their filtered child
  (throttle's file, blkdebug's image, blkverify's 'raw': found by the stateful test) and quorum
  has none; the allocated size passes through throttle, is
  the children's sum for quorum and unknown for blkdebug and blkverify (protocol drivers).

Anything else abstains (query_abstains): another version's output, these nodes under a
format node or over each other, blkdebug's other option sets, json names below blkverify.
"""

from __future__ import annotations

from reference.block.compress_query import abstains as compress_abstains
from reference.block.filenames import JSON_PREFIX, display_filename, open_options
from reference.block.node import Node
from reference.block.other_roles import special
from reference.qobject.json_writer import to_json
from reference.qobject.values import FrozenQDict, QDict, QObject

# ImageInfo members a filter takes from the node below it
PASSED_ON = ("virtual-size", "cluster-size", "dirty-flag")


def query_abstains(nodes: list[Node], profile_name: str) -> str | None:
    """Why query-named-block-nodes is not modelled with these nodes (None: it is)."""
    for node in nodes:
        if node.driver == "compress":  # its own rules: reference/block/compress_query.py
            why = compress_abstains(node, profile_name)
            if why is not None:
                return why
            continue
        if (
            node.driver == "file"
            and node.sticky_options
            and any(display_filename(parent).startswith(JSON_PREFIX) for parent in node.parents)
        ):
            return "a file node with 'locking' under a json:{...} filename"
        if not special(node):
            continue
        if profile_name not in ("7.2", "10.0", "11.1"):
            return f"{node.driver} nodes are modelled for 7.2, 10.0 and 11.1 only"
        if node.cache_given or node.detect_zeroes != "off" or node.discard != "ignore":
            return f"a {node.driver} node with cache, detect-zeroes or discard options"
        if any(not special(parent) for parent in node.parents):
            return f"a {node.driver} node under another driver's node"
        if any(special(child) for child in node.children()):
            return f"a {node.driver} node over another such node"
        kept = node.sticky_options
        if node.driver == "blkdebug" and ("config" in kept) == ("align" in kept):
            return "blkdebug's filename with both or neither of config and align"
        if node.driver == "blkverify" and any(
            display_filename(child).startswith(JSON_PREFIX) for child in node.extra_children
        ):
            return "blkverify over a node named json:{...}"
    return None


def special_filename(node: Node) -> str:
    if node.driver == "blkverify":
        test, raw = node.extra_children
        return f"blkverify:{display_filename(raw)}:{display_filename(test)}"
    image = display_filename(node.extra_children[0]) if node.driver == "blkdebug" else ""
    # a child named json:{...} has no plain name to put after the config (found by the stateful test)
    if node.driver == "blkdebug" and "align" not in node.sticky_options and not image.startswith(JSON_PREFIX):
        return f"blkdebug:{node.sticky_options['config']}:{image}"
    return JSON_PREFIX + to_json(special_options(node))


def special_options(node: Node) -> QDict:
    """The node's open options as QEMU rebuilds them (its name left out)."""
    options = QDict()
    if node.driver == "quorum":
        options.put("children", [open_options(child) for child in node.extra_children])
    elif node.driver == "throttle":
        assert node.file_child is not None and node.throttle_group is not None
        options.put("throttle-group", node.throttle_group)
        options.put("file", open_options(node.file_child))
    elif node.driver == "compress":  # no option of its own to show, yet always json:{...}
        assert node.file_child is not None
        options.put("file", open_options(node.file_child))
    elif node.driver == "blkdebug":
        options.put("image", open_options(node.extra_children[0]))
    options.put("driver", node.driver)
    for key, value in node.sticky_options.items():
        assert isinstance(value, (str, int)), "kept options are strings and numbers"
        options.put(key, value)
    return options


def special_image_info(node: Node, inner: list[FrozenQDict], limits: dict[str, QObject]) -> FrozenQDict:
    """ImageInfo of a quorum, blkverify, blkdebug or throttle node; `inner`: its data children's (flat);
    `limits`: the version's "limits" member (11.1), if any."""
    image: dict[str, QObject] = {"filename": special_filename(node), "format": node.driver, **limits}
    first = inner[0]
    size = first.get("virtual-size")
    assert isinstance(size, int)
    image["virtual-size"] = size
    if node.driver != "quorum":  # filters pass get_info on; quorum has none
        # to their filtered child: blkverify's is 'raw' (its bs->file), not 'test' (qsd 7.2)
        filtered = inner[1] if node.driver == "blkverify" else first
        for key in PASSED_ON[1:]:
            value = filtered.get(key)
            if value is not None:
                image[key] = value
    if node.driver == "throttle":
        allocated = first.get("actual-size")
        if allocated is not None:
            image["actual-size"] = allocated
    elif node.driver == "quorum":
        sizes = [info.get("actual-size") for info in inner]
        if all(isinstance(size, int) for size in sizes):
            image["actual-size"] = sum(size for size in sizes if isinstance(size, int))
    return FrozenQDict(image)


def data_children(node: Node) -> list[Node]:
    """The children whose size and info the node reports, first the one it takes them from."""
    if node.driver == "throttle":
        assert node.file_child is not None
        return [node.file_child]
    return list(node.extra_children)  # blkverify: 'test' first
