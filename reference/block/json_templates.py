"""JSON texts of answers written from per-shape templates (query-named-block-nodes' infos).

Each shape's text is a template with the members that never vary already
written and a %(name)s slot for each of the others, filled with texts that
the builders wrote from the values' known types. The values are kept
alongside, in a FrozenQDict whose text the writer then never has to write,
or made only when read (deferred(): a reply on the wire needs only the text).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import itemgetter
from typing import Any

from reference.qobject.json_writer import quote, to_json
from reference.qobject.values import FrozenQDict, QObject, qemu_order

# Writes an object's text from the builder's texts of its varying members (in schema order).
Fill = Callable[[list[str]], str]


class Templates:
    """JSON texts of objects whose members outside `constants` vary, one template per shape.

    A shape names a key sequence: the builders count their optional members
    in a bit set, cheaper than hashing the keys (a guard checks the count);
    objects of unknown keys use the key sequence itself.
    """

    def __init__(self, constants: dict[str, QObject]) -> None:
        # Every object written here takes these members' values from this very dict.
        self.constants = constants
        self.by_shape: dict[Hashable, tuple[int, str | None]] = {}
        self.positional: dict[Hashable, tuple[Fill, int]] = {}

    def freeze(self, values: dict[str, QObject], texts: dict[str, str], shape: Hashable) -> FrozenQDict:
        """`values` as a FrozenQDict with its text written: `texts` holds each varying member's JSON text."""
        compiled = self.by_shape.get(shape)
        if compiled is None:
            compiled = self.by_shape[shape] = (len(values), self._compile(tuple(values)))
        size, template = compiled
        assert len(values) == size, f"shape {shape!r} stands for other keys"
        frozen = FrozenQDict(values)
        if template is not None:  # else the writer writes it when asked
            frozen.text = template % texts
        return frozen

    def deferred(
        self,
        texts: list[str],
        shape: Hashable,
        make: Callable[[Any], dict[str, QObject]],
        recipe: object,
    ) -> FrozenQDict:
        """A FrozenQDict written from `texts` whose values make(recipe) makes only when they are read.

        `texts` are the varying members' JSON texts in the order make() puts
        the members (schema order); the shape's template is positional, with
        the texts picked in QEMU's order (no slot names to look up). A shape's
        first object is made at once: its keys give the template.
        """
        compiled = self.positional.get(shape)
        if compiled is None:
            values = make(recipe)
            compiled = self.positional[shape] = self._compile_positional(tuple(values))
            fill, slots = compiled
            assert len(texts) == slots, f"shape {shape!r}: {len(texts)} texts for {slots} varying members"
            frozen = FrozenQDict(values)
            frozen.text = fill(texts)
            return frozen
        fill, slots = compiled
        assert len(texts) == slots, f"shape {shape!r} stands for other keys"
        return FrozenQDict.deferred(fill(texts), make, recipe)

    def _compile_positional(self, keys: tuple[str, ...]) -> tuple[Fill, int]:
        """What writes the text in QEMU's order from the builder's texts, and how many it takes.

        The text's literal pieces stand between the slots: filling is a slice
        assignment and a join (a % template would be parsed again each time).
        """
        varying = [key for key in keys if key not in self.constants]
        pieces, picked = ["{"], []
        for index, key in enumerate(qemu_order(keys)):
            literal = (", " if index else "") + quote(key) + ": "
            if key in self.constants:
                pieces[-1] += literal + to_json(self.constants[key])
            else:
                pieces[-1] += literal
                pieces.append("")  # the slot, then the literal after it
                pieces.append("")
                picked.append(varying.index(key))
        pieces[-1] += "}"
        if not picked:
            text = pieces[0]
            return (lambda texts: text), 0
        pick = itemgetter(*picked)
        if len(picked) == 1:
            (only,) = picked
            before, after = pieces[0], pieces[2]
            return (lambda texts: before + texts[only] + after), 1

        def fill(texts: list[str]) -> str:
            parts = pieces.copy()
            parts[1::2] = pick(texts)
            return "".join(parts)

        return fill, len(varying)

    def _compile(self, keys: tuple[str, ...]) -> str | None:
        if any("(" in key or ")" in key for key in keys):
            return None  # such a name cannot name a %(name)s slot
        members = []
        for key in qemu_order(keys):
            value = to_json(self.constants[key]) if key in self.constants else None
            # A constant's text and every name are literal: a % in them must not read as a slot.
            literal = (quote(key) + ": " + (value or "")).replace("%", "%%")
            members.append(literal if value is not None else f"{literal}%({key})s")
        return "{" + ", ".join(members) + "}"
