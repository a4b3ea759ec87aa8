"""DataLoaders that a checkpoint puts back where they were: the exact resume of the datamodules.

Lightning saves a train loader's ``state_dict()`` in the checkpoint and calls its ``load_state_dict()``
before the resumed run's first ``iter()`` (its "stateful dataloader" interface).

:class:`ResumableDataLoader` (map-style datasets, shuffled by a seeded ``generator``) keeps what defines
the rest of the epoch: the generator's state when the loader's iterator was made (it draws the workers'
base seed) and when the epoch's permutation was drawn, and how many batches of the epoch were trained on.
On resume it restores both states, so the epoch's order and the worker seed are those of the interrupted
run, skips the trained batches at the index level (no image is loaded for them), and later epochs follow
as in the uninterrupted run, with or without persistent workers.

A batch counts as trained when the loader hands it out. Lightning fetches one batch ahead from loaders
without a length (such as the 2D mixture's endless stream); there
:class:`~datgan_lightning.callbacks.ResumeState` sets :attr:`consumed` from the training loop.

Not covered: random transforms inside persistent workers (their RNG lives in the worker processes).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader


def _state(generator: torch.Generator | None) -> torch.Tensor | None:
    return None if generator is None else generator.get_state().clone()


class _Tracked:
    """The loader's batch sampler, seen through the loader: before each pass it restores a pending
    sampler state, records the state the pass starts from, and skips a pending number of batches
    (drawn, so the generator advances as usual, but not yielded)."""

    def __init__(self, sampler: Any, loader: ResumableDataLoader) -> None:
        self.sampler, self.loader = sampler, loader

    def __iter__(self) -> Iterator[Any]:
        loader = self.loader
        generator = loader.sampler_generator()
        state, skip = loader._pending_sampler, loader._pending_skip
        loader._pending_sampler, loader._pending_skip = None, 0
        if state is not None and generator is not None:
            generator.set_state(state)
        loader._sampler_start = _state(generator)
        loader.yielded, loader.consumed = skip, None
        iterator = iter(self.sampler)
        for _ in range(skip):
            if next(iterator, None) is None:
                return
        yield from iterator

    def __len__(self) -> int:
        return len(self.sampler)


class ResumableDataLoader(DataLoader):
    """A :class:`~torch.utils.data.DataLoader` (same arguments) whose position within the epoch is part
    of Lightning's checkpoints, so a resumed run sees exactly the batches the uninterrupted run would.

    Exact when the order comes from a seeded ``generator`` (``shuffle=True, generator=torch.Generator().manual_seed(s)``)
    or a sampler with its own ``generator``: a sampler drawing from the global RNG draws before the
    RNG state is restored.

    Example:
        >>> data = torch.arange(10.0)
        >>> loader = ResumableDataLoader(data, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0))
        >>> it = iter(loader); first = [next(it), next(it)]
        >>> state = loader.state_dict()
        >>> resumed = ResumableDataLoader(data, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0))
        >>> resumed.load_state_dict(state)
        >>> [b.tolist() for b in resumed] == [b.tolist() for b in it]
        True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_iter: torch.Tensor | None = None
        self._pending_sampler: torch.Tensor | None = None
        self._pending_skip = 0
        self._iter_start: torch.Tensor | None = None  # loader generator state when the iterator was made
        self._sampler_start: torch.Tensor | None = None  # sampler generator state when this epoch's order was drawn
        self.yielded = 0  # batches of the current epoch handed out (counting those skipped on resume)
        self.consumed: int | None = None  # batches of the epoch trained on, when the training loop says so

    def sampler_generator(self) -> torch.Generator | None:
        """The generator the epoch's order is drawn from: the sampler's own, else the loader's."""
        sampler = self.batch_sampler.sampler if self.batch_sampler is not None else self.sampler
        return getattr(sampler, "generator", None) or self.generator

    @property
    def _index_sampler(self) -> Any:
        return _Tracked(super()._index_sampler, self)

    def __iter__(self) -> Any:
        reuses_workers = self.persistent_workers and self.num_workers > 0 and self._iterator is not None
        if not reuses_workers:  # a new iterator draws the workers' base seed from the loader's generator
            if self._pending_iter is not None and self.generator is not None:
                self.generator.set_state(self._pending_iter)
            self._iter_start = _state(self.generator)
        self._pending_iter = None
        # a new epoch whose order is not drawn yet (a single-process iterator draws it at the first batch)
        self._sampler_start, self.yielded, self.consumed = None, 0, None
        return self._count(super().__iter__())

    def _count(self, iterator: Any) -> Iterator[Any]:
        for batch in iterator:
            self.yielded += 1
            yield batch

    def position(self) -> int:
        """Batches of the current epoch trained on (or handed out, if the training loop did not say)."""
        return self.consumed if self.consumed is not None else self.yielded

    def state_dict(self) -> dict[str, Any]:
        if self._iter_start is None and self._sampler_start is None:
            return {}  # never iterated
        if self._sampler_start is None:  # the epoch's iterator exists but has drawn nothing: start it again
            return {"iterator": self._iter_start, "sampler": None, "position": 0, "length": len(self), "batch_size": self.batch_size}
        position = self.position()
        state = {"iterator": self._iter_start, "sampler": self._sampler_start, "position": position}
        if position >= len(self):  # the epoch is over: the next one starts from the generators' current states
            persistent = self.persistent_workers and self.num_workers > 0
            current = self.sampler_generator()
            if persistent:  # the next epoch reuses the iterator: no new base seed, a new order from `current`
                state.update(sampler=_state(current), position=0)
            else:  # a new iterator: base seed then order, both from the current state
                state.update(iterator=_state(self.generator), sampler=None, position=0)
        return {**state, "length": len(self), "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        if state.get("length") != len(self) or state.get("batch_size") != self.batch_size:
            warnings.warn(
                f"The checkpoint's data position is for {state.get('length')} batches of {state.get('batch_size')} "
                f"per epoch; this loader makes {len(self)} of {self.batch_size}, so the resumed run starts a new "
                "pass over the data (training continues, not as the uninterrupted run would have).",
                stacklevel=2,
            )
            return
        self._pending_iter, self._pending_sampler = state.get("iterator"), state.get("sampler")
        self._pending_skip = int(state.get("position", 0))
