"""QEMU's QObject values, its QDict member order and its JSON dialect."""

from reference.qobject.values import QDict, QNull, QObject, qnull

__all__ = ["QDict", "QNull", "QObject", "qnull"]
