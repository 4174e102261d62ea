"""The frozen trunk's output per text, computed once: tuning only the top k blocks of a big base then costs a step
only those blocks (and what follows them), not the whole model.

While an encoder trains its top ``k`` blocks, every block below is a fixed function of the text. The first time a
text is seen, the whole encoder runs once without gradients, in eval mode, and the input of the first tuned block is
kept (its real tokens only, in memory). Every later pass over that text — later batches, epochs — runs the model with
the lower blocks turned into pass-throughs and the kept states put in at the first tuned block; the embedding layer
(a lookup), masks and positions are still computed by the model itself, so any architecture whose blocks map a
hidden-state tensor to one (BERT, Gemma, ...) works unchanged. Frozen blocks run without dropout.

>>> import torch
>>> blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
>>> TrunkCache(blocks, blocks, first_tuned=2).size
0
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Ids = tuple[int, ...]


class TrunkCache:
    """The input of block ``first_tuned`` of ``blocks`` (the transformer blocks of ``model``) per token id sequence,
    for a model whose lower blocks are frozen."""

    def __init__(self, model: Any, blocks: Any, first_tuned: int) -> None:
        self.model, self.blocks, self.first_tuned = model, blocks, first_tuned
        self.states: dict[Ids, Any] = {}

    @property
    def size(self) -> int:
        """Texts kept."""
        return len(self.states)

    def run(self, forward: Callable[[Any], Any], batch: dict[str, Any], ids: Sequence[Ids]) -> Any:
        """``forward(batch)`` for the padded ``batch`` of ``ids``, the lower blocks' work read from the cache (and
        done once, without gradients, for texts not seen before)."""
        import torch

        missing = [i for i, key in enumerate(ids) if key not in self.states]
        if missing:  # the new texts alone run through the whole model once
            new = {name: value[missing] for name, value in batch.items()}
            was_training = self.model.training
            self.model.eval()  # the frozen part is a fixed function: no dropout
            try:
                with torch.no_grad(), self._hooked(lambda states: self._keep(states, new, [ids[i] for i in missing])):
                    forward(new)
            finally:
                self.model.train(was_training)
        mask = batch["attention_mask"].bool()
        with self._lower_blocks_skipped(), self._hooked(lambda states: self._put(states, mask, ids)):
            return forward(batch)

    def _keep(self, states: Any, batch: dict[str, Any], ids: Sequence[Ids]) -> Any:
        mask = batch["attention_mask"].bool()
        for row, key in enumerate(ids):
            self.states[key] = states[row][mask[row]].detach().clone()
        return states

    def _put(self, states: Any, mask: Any, ids: Sequence[Ids]) -> Any:
        import torch

        kept = torch.cat([self.states[key] for key in ids]).to(states.dtype)
        out = torch.zeros_like(states)  # padding positions: masked out of attention and pooling
        out[mask] = kept
        return out

    @contextlib.contextmanager
    def _hooked(self, change: Callable[[Any], Any]) -> Iterator[None]:
        """``change`` sees (and may replace) the hidden states entering the first tuned block."""

        def hook(_: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                return (change(args[0]), *args[1:]), kwargs
            return args, kwargs | {"hidden_states": change(kwargs["hidden_states"])}

        handle = self.blocks[self.first_tuned].register_forward_pre_hook(hook, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()

    @contextlib.contextmanager
    def _lower_blocks_skipped(self) -> Iterator[None]:
        """The blocks below the first tuned one return their input (their output comes from the cache)."""

        def passthrough(*args: Any, **kwargs: Any) -> Any:
            return args[0] if args else kwargs["hidden_states"]

        lower = list(self.blocks)[: self.first_tuned]
        for block in lower:
            block.forward = passthrough
        try:
            yield
        finally:
            for block in lower:
                del block.forward
