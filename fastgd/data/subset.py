"""Deterministic splits of any source into row subsets, without copying."""

from dataclasses import dataclass

import numpy as np

from .._validation import readonly
from .base import LocalSource


@dataclass(frozen=True)
class Split:
    """Hold out about ``fraction`` of the rows, drawn block by block from ``seed``.

    Each natural block (a partition, for Dask) draws its own mask from
    ``(seed, block)``, so a split does not depend on the order blocks are read
    in, streamed sources are split as they stream, and Dask workers draw their
    partition's rows themselves. ``held`` picks the held-out rows, else the rest.
    """

    seed: int
    fraction: float
    held: bool = False

    def mask(self, key, rows):
        """Which of a block's ``rows`` rows this side of the split keeps."""
        out = np.random.default_rng([self.seed, key]).random(rows) < self.fraction
        return out if self.held else ~out

    def selections(self, block_sizes, key=None):
        """Per block, the positions kept, drawn per block or, with ``key``, as one mask over all."""
        if key is None:
            return [np.flatnonzero(self.mask(k, int(size))) for k, size in enumerate(block_sizes)]
        kept = self.mask(key, int(np.sum(block_sizes)))
        bounds = np.cumsum(block_sizes)[:-1]
        return [np.flatnonzero(part) for part in np.split(kept, bounds)]

    def other(self):
        return Split(self.seed, self.fraction, not self.held)


def split(source, fraction, seed):
    """The training and validation subsets of ``source``; neither may be empty."""
    kept = Split(seed, fraction)
    parts = source.subset(kept), source.subset(kept.other())
    for name, part in zip(("the training", "the validation"), parts):
        if part.n_rows == 0:
            raise ValueError(
                f"validation_fraction={fraction} leaves {name} set empty on "
                f"{source.n_rows} rows; change validation_fraction or use more data"
            )
    return parts


class SubsetSource(LocalSource):
    """Some rows of another local source: ``selections[k]`` picks rows of block ``k``."""

    def __init__(self, base, selections):
        self._base = base
        self._selections = [readonly(np.asarray(s, np.int64)) for s in selections]
        starts = base.block_starts()
        self._global = readonly(np.concatenate([start + s for start, s in zip(starts, self._selections)]))
        self.n_rows = len(self._global)
        self.n_features = base.n_features
        self.dtype = base.dtype
        self.feature_names = base.feature_names
        self.input_names = base.input_names
        self.block_sizes = base.block_sizes
        self.random_access = base.random_access
        self.sparse = base.sparse
        self.has_target = base.has_target
        self.weighted = base.weighted

    @property
    def piece_rows(self):
        return self._base.piece_rows

    def centrable(self):
        return self._base.centrable()

    @property
    def categories(self):
        """The base's category mappings, or None."""
        return getattr(self._base, "categories", None)

    def zero_copy_rows(self):
        rows = self._base.zero_copy_rows()
        return None if rows is None else rows._replace(rows=self._global)

    def blocks(self):
        for block in self._base.blocks():
            lo, hi = np.searchsorted(self._global, [block.start, block.start + block.X.shape[0]])
            if hi > lo:
                # A view when the block starts the data (a whole array): no
                # index of the size of the data per pass.
                rows = self._global[lo:hi]
                yield block._replace(rows=readonly(rows - block.start) if block.start else rows)

    def sequential(self):
        for k, selection in enumerate(self._selections):
            if len(selection):
                yield self._base.block(k)._replace(rows=selection)

    def selected(self, k):
        return self._selections[k]

    def fill(self, k, X, y, w):
        self._base.fill(k, X, y, w)

    def gather(self, order, X, y, w):
        self._base.gather(self._global[order], X, y, w)

    def allocate(self, rows):
        return self._base.allocate(rows)

    def raw_targets(self):
        return self._base.raw_targets()

    def with_target(self, encode, reweight=None):
        return SubsetSource(self._base.with_target(encode, reweight), self._selections)
