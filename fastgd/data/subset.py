"""A deterministic split of any source into two row subsets, without copying."""

import numpy as np

from .._validation import readonly
from .base import Source


def split(source, fraction, seed):
    """Hold out about ``fraction`` of the rows, drawn block by block from ``seed``.

    Each natural block draws its own mask from ``(seed, block)``, so the split
    does not depend on the order blocks are read in, and streamed sources are
    split as they stream.

    Returns
    -------
    kept, held_out : Source
    """
    kept, held = [], []
    for k, size in enumerate(source.block_sizes):
        out = np.random.default_rng([seed, k]).random(int(size)) < fraction
        held.append(np.flatnonzero(out))
        kept.append(np.flatnonzero(~out))
    for name, part in (("the training", kept), ("the validation", held)):
        if sum(len(p) for p in part) == 0:
            raise ValueError(
                f"validation_fraction={fraction} leaves {name} set empty on "
                f"{source.n_rows} rows; change validation_fraction or use more data"
            )
    return SubsetSource(source, kept), SubsetSource(source, held)


class SubsetSource(Source):
    """Some rows of another source: ``selections[k]`` picks rows of block ``k``."""

    def __init__(self, base, selections):
        self._base = base
        self._selections = [readonly(s.astype(np.int64)) for s in selections]
        starts = base.block_starts()
        self._global = readonly(np.concatenate([start + s for start, s in zip(starts, self._selections)]))
        self.n_rows = len(self._global)
        self.n_features = base.n_features
        self.dtype = base.dtype
        self.feature_names = base.feature_names
        self.block_sizes = base.block_sizes
        self.random_access = base.random_access
        self.has_target = base.has_target
        self.weighted = base.weighted

    @property
    def piece_rows(self):
        return self._base.piece_rows

    def zero_copy_rows(self):
        rows = self._base.zero_copy_rows()
        return None if rows is None else rows._replace(rows=self._global)

    def blocks(self):
        for block in self._base.blocks():
            lo, hi = np.searchsorted(self._global, [block.start, block.start + block.X.shape[0]])
            if hi > lo:
                yield block._replace(rows=readonly(self._global[lo:hi] - block.start))

    def sequential(self):
        for k, selection in enumerate(self._selections):
            if len(selection):
                yield self._base.block(k)._replace(rows=selection)

    def selected(self, k):
        return self._selections[k]

    def fill(self, k, X, y, w):
        self._base.fill(k, X, y, w)

    def allocate(self, rows):
        return self._base.allocate(rows)

    def rows(self):
        return self._base.rows()._replace(rows=self._global)

    def raw_targets(self):
        return self._base.raw_targets()

    def with_target(self, encode, reweight=None):
        return SubsetSource(self._base.with_target(encode, reweight), self._selections)
