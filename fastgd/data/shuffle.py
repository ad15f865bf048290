"""Shuffle plans: the order in which a mini-batch epoch visits the rows.

- ``"exact"``: a full permutation of the rows, every epoch, uniformly random
  (:func:`~fastgd.kernels.permute.permutation`, from two seeds drawn from
  the generator). Needs random row access (arrays and memory maps of any
  dtype and layout, a single-buffer tensor column).
- ``"block"``: a random order of the natural blocks; consecutive blocks in
  that order form a group of at most ``buffer_rows`` rows (or one block),
  whose rows are permuted. Works for every source, streamed ones included
  (the group is copied into a bounded buffer), at the cost of batches drawn
  from one group instead of from the whole data. The default buffer holds
  :data:`~fastgd._config.SHUFFLE_BUFFER_PIECES` pieces of rows (8-16 MiB).
- ``None``: natural blocks in stored order, rows unshuffled.

A batch never spans two groups (or two blocks, unshuffled). Every plan draws
from the generator in the same sequence (the block shuffle: one permutation of
the blocks and one seed, from which each position of the epoch's order gets
its own uniform draw), and visits the rows in the same order, for sources with
the same block sizes: such sources give bit-identical fits, whether their rows
are read in place or through the buffer.
"""

import numpy as np

from .._validation import readonly
from ..kernels.permute import bucket_bits, concatenate_ranges, group_blocks, permutation, shuffle_groups
from .base import ALL_ROWS, NO_WEIGHTS, Rows

#: No unit boundaries: the whole order is one unit.
ONE_UNIT = readonly(np.empty(0, np.int64))


class EpochPlan:
    """Cuts each mini-batch epoch into calls of the compiled epoch kernel.

    Each call gets a :class:`~fastgd.data.base.Rows`: the rows of ``X`` in
    ``order`` (all rows when empty), with batches restarting at every
    position in ``bounds``. Sources whose rows can be read in place need one
    call per epoch; the others one per natural block or buffer, filled from
    a bounded buffer allocated once. An exact shuffle of rows that cannot be
    read in place (another dtype or layout) gathers them, in the permuted
    order, into a buffer a whole number of batches long: the batches, and so
    the result, are those of the same rows read in place.
    """

    def __init__(self, source, shuffle, buffer_rows, batch_size):
        self.source = source
        self.shuffle = shuffle
        self.capacity = max(buffer_rows, int(source.block_sizes.max()))
        self._starts = source.block_starts()
        self._whole_blocks = all(source.selected(k) is None for k in range(source.n_blocks))
        self._in_place = source.zero_copy_rows()
        if shuffle == "exact" and self._in_place is None:
            self._gathered = max(1, source.piece_rows // batch_size) * batch_size
            self._buffers = source.allocate(min(self._gathered, source.n_rows))
        if shuffle == "block" and self._in_place is None:
            self._buffers = source.allocate(self.capacity)
        if shuffle == "exact" or (shuffle == "block" and self._in_place is not None):
            self._order = np.empty(source.n_rows, np.int64)  # reused every epoch

    def run(self, step, carry, rng):
        """``carry = step(rows, carry)`` over the units of one epoch; the last carry."""
        for rows in self.units(rng):
            carry = step(rows, carry)
        return carry

    def units(self, rng):
        """Yield the :class:`~fastgd.data.base.Rows` of one epoch."""
        source = self.source
        if self.shuffle == "exact":
            seed, within = (int(v) for v in rng.integers(2**63, size=2))
            order = self._order
            permutation(seed, within, order, bucket_bits(len(order)))
            rows = self._in_place
            if rows is None:
                yield from self._gather(order)
                return
            if len(rows.rows):
                order = rows.rows[order]
            yield Rows(rows.X, rows.y, rows.w, readonly(order), ONE_UNIT)
        elif self.shuffle is None and self._in_place is not None:
            rows = self._in_place
            counts = [len(self._block_rows(k)) for k in range(source.n_blocks)]
            bounds = np.cumsum([c for c in counts if c])
            yield Rows(rows.X, rows.y, rows.w, rows.rows, readonly(bounds.astype(np.int64)))
        elif self.shuffle is None:
            for block in source.sequential():
                yield Rows(block.X, block.y, block.w, block.rows, ONE_UNIT)
        else:
            groups = self._groups(rng.permutation(source.n_blocks))
            seed = int(rng.integers(2**63))
            if self._in_place is not None:
                yield self._in_place_unit(groups, seed)
            else:
                used = 0
                for group in groups:
                    unit = self._buffered(group, seed, used)
                    if unit is not None:
                        used += len(unit.order)
                        yield unit

    def _gather(self, order):
        """Rows ``order`` a buffer at a time, converted as they are gathered."""
        X, y, w = self._buffers
        for start in range(0, len(order), self._gathered):
            part = order[start : start + self._gathered]
            m = len(part)
            self.source.gather(part, X[:m], None if y is None else y[:m], None if w is None else w[:m])
            weights = NO_WEIGHTS if w is None else readonly(w[:m])
            yield Rows(readonly(X[:m]), readonly(y[:m]), weights, ALL_ROWS, ONE_UNIT)

    def _groups(self, order):
        """Consecutive blocks of ``order``, as many as fit the buffer (at least one)."""
        ends = group_blocks(order, self.source.block_sizes, self.capacity)
        return np.split(order, ends[:-1])

    def _block_rows(self, k):
        """Rows of natural block ``k`` that belong to the data, as source positions."""
        start = int(self._starts[k])
        chosen = self.source.selected(k)
        return start + (np.arange(int(self.source.block_sizes[k])) if chosen is None else chosen)

    def _in_place_unit(self, groups, seed):
        """The one unit of an in-place block shuffle: each group's rows, permuted."""
        order, bounds, end = self._order, [], 0
        sizes = self.source.block_sizes
        if self._whole_blocks:
            end = concatenate_ranges(np.concatenate(groups), self._starts, sizes, order)
            bounds = np.cumsum([int(sizes[group].sum()) for group in groups])
        else:
            for group in groups:
                for k in group:
                    rows = self._block_rows(k)
                    order[end : end + len(rows)] = rows
                    end += len(rows)
                if not bounds or bounds[-1] < end:
                    bounds.append(end)
        bounds = np.array(bounds, np.int64)
        shuffle_groups(order[:end], bounds, seed, 0)
        rows = self._in_place
        return Rows(rows.X, rows.y, rows.w, readonly(order[:end]), readonly(bounds))

    def _buffered(self, group, seed, first):
        """Fill the buffer with ``group``'s blocks; the unit, or None if no row is chosen."""
        X, y, w = self._buffers
        sizes = self.source.block_sizes
        offset, positions = 0, []
        for k in group:
            stop = offset + int(sizes[k])
            part = None if w is None else w[offset:stop]
            self.source.fill(k, X[offset:stop], y[offset:stop], part)
            chosen = self.source.selected(k)
            positions.append(np.arange(offset, stop) if chosen is None else offset + chosen)
            offset = stop
        order = np.concatenate(positions)
        if not len(order):
            return None
        shuffle_groups(order, np.array([len(order)], np.int64), seed, first)
        weights = NO_WEIGHTS if w is None else readonly(w[:offset])
        return Rows(readonly(X[:offset]), readonly(y[:offset]), weights, readonly(order), ONE_UNIT)



