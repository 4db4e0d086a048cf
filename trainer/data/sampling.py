"""Batches with several items of each label in them, the same on every rank, sharded across ranks."""

from __future__ import annotations

import numpy as np


class LabelBatchSampler:
    """Per epoch: items grouped `per_label` at a time by label, groups shuffled and packed into batches.

    Label-aware objectives (SupCon, prototype, multi-positive InfoNCE) need positives in the
    batch: a uniform draw of 16 items from 10 classes holds about one pair, this sampler
    `per_label` items of every label it draws. Each label's items are shuffled and cut into
    groups of `per_label` (a label's last group may be smaller); the groups are shuffled and cut,
    whole, into N // batch_size batches of about batch_size items each (N items; at least one
    batch), so every item is seen once per epoch and the number of batches never varies.

    Under data parallel training every rank builds the same batches from (seed, epoch) and takes
    batches rank, rank + world, ... (DistributedSampler's sharding with batches as the unit):
    every rank takes len(self) batches; with fewer batches than ranks, ranks share them.
    """

    def __init__(self, labels, batch_size: int, per_label: int = 4, seed: int = 0, rank: int = 0, world: int = 1):
        self.labels = np.asarray(labels, np.int64)
        if len(self.labels) < 2:
            raise ValueError(f"need at least two training items, got {len(self.labels)}")
        self.batch_size = max(2, int(batch_size))
        self.per_label = max(1, min(int(per_label), self.batch_size))
        self.seed, self.rank, self.world = seed, rank, world
        self.epoch = 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_batches(self) -> list[np.ndarray]:
        """This epoch's batches of item indices, before sharding."""
        rng = np.random.default_rng([self.seed, self.epoch])
        groups = []
        for label in np.unique(self.labels):
            members = rng.permutation(np.flatnonzero(self.labels == label))
            groups += [members[i:i + self.per_label] for i in range(0, len(members), self.per_label)]
        groups = [groups[i] for i in rng.permutation(len(groups))]
        count = max(1, len(self.labels) // self.batch_size)
        ends = np.cumsum([len(g) for g in groups])  # items up to and including each group
        # batch k ends with the group that crosses (k + 1) N / count items; groups never exceed a
        # batch, so every batch gets at least one group
        cuts = np.searchsorted(ends, np.arange(1, count) * len(self.labels) / count) + 1
        bounds = [0, *cuts.tolist(), len(groups)]
        return [np.concatenate(groups[a:b]) for a, b in zip(bounds, bounds[1:])]

    def __iter__(self):
        batches = self.global_batches()
        for step in range(len(self)):
            yield batches[(step * self.world + self.rank) % len(batches)]

    def __len__(self) -> int:
        return max(1, max(1, len(self.labels) // self.batch_size) // self.world)
