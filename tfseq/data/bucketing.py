"""Length-bucketed, shuffled batches with exact resume: the scheduling shared by the translation,
classification and tagging readers (each pads its own batch)."""

from typing import Iterator

import numpy as np


class BucketSchedule:
    """Epochs of same-bucket batches, in a fixed-seed random order that depends only on the epoch.

    A subclass sets ``examples`` (a sequence), ``boundaries`` (bucket widths), ``batch_size``,
    ``seed`` and ``bucket_of`` (the bucket of each example), and defines
    ``batch(bucket, members)`` (the padded batch of those example indices). Because an epoch's
    order depends only on ``(seed, epoch)``, ``epoch(e, start)`` resumes a killed run exactly:
    it skips the ``start`` batches already trained on.
    """

    def __len__(self) -> int:
        counts = np.bincount(self.bucket_of, minlength=len(self.boundaries))
        return int(sum(-(-n // self.batch_size) for n in counts))

    def _groups(self, order: list[int]) -> list[tuple[int, list[int]]]:
        groups = []
        for bucket in range(len(self.boundaries)):
            members = [i for i in order if self.bucket_of[i] == bucket]
            groups += [(bucket, members[k:k + self.batch_size]) for k in range(0, len(members), self.batch_size)]
        return groups

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict]:
        """One shuffled epoch of batches (the same for the same ``epoch``), skipping ``start``."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        groups = self._groups(rng.permutation(len(self.examples)).tolist())
        for k in rng.permutation(len(groups))[start:]:
            yield self.batch(*groups[k])

    def in_order(self) -> Iterator[dict]:
        """Every example once, unshuffled within buckets (for evaluation)."""
        for bucket, members in self._groups(list(range(len(self.examples)))):
            yield self.batch(bucket, members)

    def batch(self, bucket: int, members: list[int]) -> dict:  # pragma: no cover - the subclass's
        raise NotImplementedError
