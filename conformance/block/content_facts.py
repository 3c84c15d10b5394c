"""Storage facts about what files and images hold, read from the real files (reference/block/guest_data.py).

A file's bytes are read directly; a qcow2 image's own layer is what
`qemu-img map` shows present at depth 0, its bytes read through qemu-img
with the backing cut off, so the oracle sees clusters as QEMU stored them.
Each fact is a list of (offset, length, byte) runs of one value. Which of
the layer's ranges have a host offset, plain or compressed, comes from the
same map (qemu-img shows compressed data without an offset).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from conformance.storage import _run

JSON_NO_BACKING = (
    'json:{{"driver": "qcow2", "backing": null, "file": {{"driver": "file", "filename": {path}}}}}'
)


def runs_of(data: bytes, start: int = 0) -> list[tuple[int, int, int]]:
    """data as (offset, length, byte) runs of equal bytes, offsets counted from start."""
    runs: list[tuple[int, int, int]] = []
    at = 0
    while at < len(data):
        byte = data[at]
        end = at + len(data[at:]) - len(data[at:].lstrip(bytes([byte])))
        runs.append((start + at, end - at, byte))
        at = end
    return runs


def file_content(path: str) -> list[tuple[int, int, int]]:
    return runs_of(Path(path).read_bytes())


def qcow2_layer(path: str) -> list[tuple[int, int, int]]:
    """The guest ranges the image holds itself (present at depth 0), with their bytes."""
    extents = json.loads(_run(["qemu-img", "map", "-U", "--output=json", path]))
    own = [(e["start"], e["length"]) for e in extents if e["depth"] == 0 and e["present"]]
    if not own:
        return []
    with tempfile.TemporaryDirectory(prefix="qcf-layer-") as folder:
        flat = Path(folder) / "layer.raw"
        source = JSON_NO_BACKING.format(path=json.dumps(path))
        _run(["qemu-img", "convert", "-U", "-O", "raw", source, str(flat)])
        with flat.open("rb") as data:
            runs: list[tuple[int, int, int]] = []
            for start, length in own:
                data.seek(start)
                runs += runs_of(data.read(length), start)
    return runs


def qcow2_hosting(path: str) -> list[tuple[int, int, str]]:
    """The image's own ranges with a host offset: plain where qemu-img map gives the offset
    (data, or a preallocated zero cluster), compressed where it shows data without one."""
    extents = json.loads(_run(["qemu-img", "map", "-U", "--output=json", path]))
    hosted = []
    for e in extents:
        if e["depth"] == 0 and e.get("present", e["data"]) and ("offset" in e or e["data"]):
            hosted.append((e["start"], e["length"], "plain" if "offset" in e else "compressed"))
    return hosted


class ContentStorage:
    """A mixin for HostStorage: the ContentFacts the oracle's reads need, and the HostingFacts
    its compressed writes need (reference/block/qcow2_hosting.py)."""

    def content(self, path: str, fmt: str) -> list[tuple[int, int, int]]:
        return qcow2_layer(path) if fmt == "qcow2" else file_content(path)

    def hosting(self, path: str) -> list[tuple[int, int, str]]:
        return qcow2_hosting(path)
