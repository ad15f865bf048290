"""Shuffle plans: the order in which a mini-batch epoch visits the rows.

- ``"exact"``: a full permutation of the rows, every epoch. Needs random row
  access (arrays, memory maps, a single-buffer tensor column).
- ``"block"``: a random order of the natural blocks; consecutive blocks in
  that order fill a bounded buffer whose rows are then permuted. Works for
  every source, streamed ones included, at the cost of batches drawn from
  ``buffer_rows`` rows at a time instead of from the whole data.
- ``None``: natural blocks in stored order, rows unshuffled.

Every plan draws from the generator in the same sequence for sources with
the same block sizes, so such sources give bit-identical fits.
"""

import numpy as np

from .._validation import readonly
from .base import NO_WEIGHTS


class EpochPlan:
    """Cuts each mini-batch epoch into units for the compiled epoch kernel.

    The block-shuffle buffer is allocated once and reused every epoch.
    """

    def __init__(self, source, shuffle, buffer_rows):
        self.source = source
        self.shuffle = shuffle
        if shuffle == "block":
            self.capacity = max(buffer_rows, int(source.block_sizes.max()))
            self._buffers = source.allocate(self.capacity)

    def units(self, rng):
        """Yield ``(X, y, w, order)``: one compiled call's worth of rows each."""
        source = self.source
        if self.shuffle == "exact":
            block = source.rows()
            order = rng.permutation(source.n_rows)
            if len(block.rows):
                order = block.rows[order]
            yield block.X, block.y, block.w, readonly(order)
        elif self.shuffle is None:
            for block in source.sequential():
                yield block.X, block.y, block.w, block.rows
        else:
            yield from self._block_shuffle(rng)

    def _block_shuffle(self, rng):
        source = self.source
        sizes = source.block_sizes
        X, y, w = self._buffers
        group = []
        for k in [*rng.permutation(source.n_blocks), None]:
            held = sum(int(sizes[j]) for j in group)
            if group and (k is None or held + sizes[k] > self.capacity):
                offset, positions = 0, []
                for j in group:
                    stop = offset + int(sizes[j])
                    part = None if w is None else w[offset:stop]
                    source.fill(j, X[offset:stop], y[offset:stop], part)
                    chosen = source.selected(j)
                    positions.append(np.arange(offset, stop) if chosen is None else offset + chosen)
                    offset = stop
                positions = np.concatenate(positions)
                order = rng.permutation(len(positions))
                if len(positions) < held:
                    order = positions[order]
                weights = NO_WEIGHTS if w is None else readonly(w[:held])
                if len(order):
                    yield readonly(X[:held]), readonly(y[:held]), weights, readonly(order)
                group = []
            if k is not None:
                group.append(k)
