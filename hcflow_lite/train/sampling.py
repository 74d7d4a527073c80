"""Randomness as a function of (seed, iteration): exact resumption and rank-independent batches.

Everything random in an iteration — which images form the global batch, their crops and flips,
the dequantisation noise, the latents of sampled reconstructions — is drawn from generators
seeded by ``(seed, stream, iteration, …)``.  Two consequences:

* resuming at iteration ``i`` reproduces iteration ``i`` bit for bit: nothing depends on how
  many random numbers an interrupted process had consumed;
* the global batch of iteration ``i`` (its images, crops, noise) is the same whatever the
  number of processes; rank ``r`` of ``N`` takes rows ``r·B/N … (r+1)·B/N − 1``.  A run on
  two GPUs therefore makes the same updates as one process with the same global batch (up to
  floating-point summation order).

:class:`GlobalBatchSampler` plays the part of ``DistributedSampler`` (per-rank shards of one
shuffled order), but indexes by iteration instead of by epoch, so that a run killed in the
middle of an epoch resumes exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..models import HCFlowConfig

__all__ = [
    "STREAM_DATA",
    "STREAM_EPS",
    "STREAM_NOISE",
    "GlobalBatchSampler",
    "SeededItems",
    "derive_seed",
    "dequantization_noise",
    "make_generator",
    "sample_latents",
    "seeded_rng",
]

STREAM_PERM, STREAM_DATA, STREAM_NOISE, STREAM_EPS, STREAM_VAL, STREAM_INIT = 1, 2, 3, 4, 5, 6


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from integers (NumPy's ``SeedSequence`` hashing: nearby keys give unrelated seeds)."""
    state = np.random.SeedSequence([int(k) % (1 << 32) for k in keys]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def make_generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(*keys))
    return g


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global CPU generators for a block, then restore them."""
    py, npy, th = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
    random.seed(seed)
    np.random.seed(seed % (1 << 32))  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)  # noqa: NPY002 - the global generator itself is what is saved, seeded or restored
        torch.set_rng_state(th)


class SeededItems(Dataset):
    """Wraps a dataset so that item ``(index, seed)`` is loaded with all global RNGs seeded by ``seed``.

    Random crops and flips of the wrapped dataset become a function of the seed, in the main
    process and in ``DataLoader`` workers alike.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with seeded_rng(seed):
            return self.dataset[index]


class GlobalBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields this rank's part of the global batch of iterations ``start+1 … end``.

    The global batch of iteration ``i`` holds positions ``(i−1)·B … i·B−1`` of an endless
    sequence of shuffled epochs (epoch ``e`` is a permutation drawn from ``(seed, e)``); each
    entry is ``(dataset index, item seed)``.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, start: int, end: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if n < 1:
            raise ValueError("the training set is empty")
        if batch_size % world_size:
            raise ValueError(f"data.batch_size ({batch_size}) must be divisible by the number of processes ({world_size})")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.end = start, end
        self.rank, self.world_size = rank, world_size
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = torch.randperm(self.n, generator=make_generator(self.seed, STREAM_PERM, epoch))
        return self._perms[epoch]

    def global_batch(self, iteration: int) -> list[tuple[int, int]]:
        out = []
        for slot in range(self.batch_size):
            pos = (iteration - 1) * self.batch_size + slot
            index = int(self._perm(pos // self.n)[pos % self.n])
            out.append((index, derive_seed(self.seed, STREAM_DATA, iteration, slot)))
        return out

    def rank_slice(self, rows: Sequence[Any]) -> list[Any]:
        b = self.batch_size // self.world_size
        return list(rows[self.rank * b : (self.rank + 1) * b])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for iteration in range(self.start + 1, self.end + 1):
            yield self.rank_slice(self.global_batch(iteration))

    def __len__(self) -> int:
        return max(self.end - self.start, 0)


def dequantization_noise(
    shape: Sequence[int], quant: float, seed: int, iteration: int, rows: slice, device: torch.device
) -> torch.Tensor:
    """:math:`u/\\text{quant}`, :math:`u\\sim U(0,1)`, for the global batch ``shape``; this rank's ``rows``."""
    g = make_generator(seed, STREAM_NOISE, iteration, device=device)
    return (torch.rand(tuple(shape), generator=g, device=device) / quant)[rows]


def sample_latents(
    config: HCFlowConfig, batch: int, hr_size: tuple[int, int], generator: torch.Generator, rows: slice, device: torch.device
) -> list[torch.Tensor]:
    """Standard-normal latents for a global batch of HR size ``hr_size``, level 0 first.

    Drawn coarsest level first (the order of the official sampler); each rank keeps ``rows``.
    """
    shapes = []
    h, w = hr_size
    for level, (_, _, latent) in enumerate(config.level_channels()):
        shapes.append((batch, latent, h // 2 ** (level + 1), w // 2 ** (level + 1)))
    eps: list[torch.Tensor] = [torch.empty(0)] * len(shapes)
    for level in reversed(range(len(shapes))):
        eps[level] = torch.randn(shapes[level], generator=generator, device=device)[rows]
    return eps
