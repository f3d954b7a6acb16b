"""What patching and ablation act on: heads, MLPs and attention layers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple


class Component(NamedTuple):
    """A head ``("head", layer, head)``, an MLP ``("mlp", layer)`` or an attention layer ``("attn", layer)``."""

    kind: str
    layer: int
    head: int | None = None

    def __str__(self) -> str:
        if self.kind == "head":
            return f"{self.layer}.{self.head}"
        return f"{self.kind.upper()}{self.layer}"

    @classmethod
    def parse(cls, value: Any) -> Component:
        """Return a Component from a Component, a tuple, or a string like "9.1", "MLP9", "ATTN9"."""
        if isinstance(value, Component):
            return value
        if isinstance(value, str):
            text = value.strip().upper()
            for kind in ("MLP", "ATTN"):
                if text.startswith(kind):
                    return cls(kind.lower(), int(text[len(kind) :]))
            layer, head = text.split(".")
            return cls("head", int(layer), int(head))
        value = tuple(value)
        if value and value[0] == "head" and len(value) == 3:
            return cls("head", int(value[1]), int(value[2]))
        if value and value[0] in ("mlp", "attn") and len(value) == 2:
            return cls(value[0], int(value[1]))
        raise ValueError(
            f"{value!r} is not a component: use ('head', layer, head), ('mlp', layer) "
            "or ('attn', layer)"
        )


def heads(model: Any, layers: Iterable[int] | None = None) -> list[Component]:
    """Return every head of the given layers (all layers by default) as Components."""
    layers = range(model.cfg.n_layers) if layers is None else layers
    return [Component("head", L, h) for L in layers for h in range(model.cfg.n_heads)]
