"""How the block model fails: as QEMU would (BlockError) or by abstaining (NotModelled)."""

from __future__ import annotations


class BlockError(Exception):
    """QEMU's answer: an error of this class (GenericError unless said) with this text."""

    def __init__(self, desc: str, error_class: str = "GenericError") -> None:
        super().__init__(desc)
        self.desc = desc
        self.error_class = error_class


class NotModelled(Exception):
    """The model cannot predict QEMU's answer to this input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
