"""Arrow data as a source: in-memory tables, IPC/Feather files, Parquet datasets.

Feature columns are either *wide* (one numeric column per feature) or a
single *tensor* column (a fixed-size list of numbers, row-major already).
Wide blocks are assembled column by column into a bounded, reused row-major
buffer; nothing ever builds a row-major copy of the whole table. A tensor
column of the kernel dtype goes to the kernels without any copy.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from .._config import SMALL_DATA_BYTES, piece_rows
from .._validation import readonly
from ..kernels.columns import rows_from_columns
from .base import Block, ColumnBlock, LocalSource, _readonly, _weights, row_shift


class ArrowSource(LocalSource):
    """Rows of Arrow data, read block by block through a ``reader``.

    Parameters
    ----------
    reader : TableReader, IpcReader or ParquetReader
        Knows the natural blocks and reads one as a table of chosen columns.
    features : list of str
        Feature column names, or the one tensor column's name.
    tensor : int or None
        The width of the tensor column, or None for wide features.
    dtype : float32 or float64
    target, weight : str or None
        Column names; the target is encoded once :meth:`with_target` is given
        an encoder.
    """

    def __init__(self, reader, features, tensor, dtype, target=None, weight=None):
        self._reader = reader
        self._features = list(features)
        self._tensor = tensor
        self._encode = None
        self._reweight = None
        self.dtype = np.dtype(dtype)
        self.target = target
        self.weight = weight
        self.weighted = weight is not None
        self.n_features = tensor or len(self._features)
        self.feature_names = (
            [f"{features[0]}[{j}]" for j in range(tensor)] if tensor else self._features
        )
        self.block_sizes = reader.block_sizes
        self.n_rows = int(self.block_sizes.sum())
        whole = reader.whole(self._features) if tensor else None
        self._whole = None if whole is None else self._features_view(whole)
        self.random_access = self._whole is not None
        self._in_place = piece_rows(self.n_features, self.dtype.itemsize, zero_copy=True)
        self._column_cache = []

    def _columns(self):
        extra = [self.target] if self.has_target else []
        return self._features + extra + ([self.weight] if self.weight is not None else [])

    def _features_view(self, table):
        """Zero-copy (rows, d) features of a tensor column of the kernel dtype, or None."""
        if not self._tensor:
            return None
        column = table.column(self._features[0])
        if isinstance(column, pa.ChunkedArray):
            if column.num_chunks != 1:
                return None
            column = column.chunk(0)
        values = column.flatten()  # flatten, unlike .values, honours the slice offset
        exact = pa.types.is_floating(values.type) and values.type.bit_width == 8 * self.dtype.itemsize
        if column.null_count or values.null_count or not exact:
            return None
        return values.to_numpy(zero_copy_only=True).reshape(-1, self._tensor)

    def _features_into(self, table, X):
        if self._tensor:
            name = self._features[0]
            column = table.column(name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            values = _numbers(column, name) if column.null_count else column.flatten()
            np.copyto(X, _numbers(values, name).reshape(X.shape), casting="unsafe")
        else:
            addresses, owners, _ = self._column_addresses(table)
            rows_from_columns(addresses, np.empty(0, self.dtype), X)
            del owners  # kept alive until the rows are written

    def _targets_into(self, table, y, w):
        raw = None if y is None else _numbers(table.column(self.target), self.target)
        if y is not None:
            y[:] = self._encode(raw)
        if w is None:
            return
        if self.weight is None:
            w[:] = 1.0
        else:
            w[:] = _numbers(table.column(self.weight), self.weight)
            bad = ~(np.isfinite(w) & (w >= 0))
            if bad.any():
                raise ValueError(
                    f"weight column {self.weight!r} has the value {w[np.argmax(bad)]}; "
                    "weights must be finite and >= 0"
                )
        if self._reweight is not None:
            w *= self._reweight(raw)

    def fill(self, k, X, y, w):
        table = self._reader.read(k, self._columns())
        self._features_into(table, X)
        self._targets_into(table, y, w)

    def first_row(self):
        # One row converted, not a whole piece: a Parquet fit's Gram pass reads columns.
        X, _, _ = self.allocate(1)
        self._features_into(self._reader.read(0, self._columns()).slice(0, 1), X)
        return row_shift(X, 0, self.n_features)

    def blocks(self):
        piece = self.piece_rows
        X_buffer, _, _ = self.allocate(min(piece, self.n_rows))
        # A tensor of the kernel dtype is read in place: large pieces, no buffer.
        if self._tensor and self._tensor_in_place():
            piece = self._in_place
        y_buffer, w_buffer = self._target_buffers(min(piece, self.n_rows))
        for start, table in self._reader.pieces(self._columns(), piece):
            rows = table.num_rows
            X = self._features_view(table)
            if X is None:
                X = X_buffer[:rows]
                self._features_into(table, X)
            y, w = (None if b is None else b[:rows] for b in (y_buffer, w_buffer))
            self._targets_into(table, y, w)
            yield Block(start, readonly(X), _readonly(y), _weights(w))

    def column_blocks(self):
        if self._tensor:
            return None
        return self._column_blocks()

    def _target_buffers(self, rows):
        """Buffers for ``rows`` targets and weights (None where absent)."""
        return (
            np.empty(rows) if self.has_target else None,
            np.empty(rows) if self.weighted else None,
        )

    def _tensor_in_place(self):
        value_type = self._reader.schema.field(self._features[0]).type.value_type
        return pa.types.is_floating(value_type) and value_type.bit_width == 8 * self.dtype.itemsize

    def _column_blocks(self):
        if self._column_cache:
            yield from self._column_cache
            return
        piece = self._in_place
        y_buffer, w_buffer = self._target_buffers(min(piece, self.n_rows))
        like = np.empty(0, self.dtype)
        # Small data is decoded or converted once and kept, whatever its
        # source: a wide Parquet file of a few hundred rows would otherwise be
        # decoded again every epoch.
        small = self.n_rows * self.n_features * self.dtype.itemsize <= SMALL_DATA_BYTES
        blocks, remember = [], self._reader.in_memory or small
        for start, table in self._reader.pieces(self._columns(), piece):
            rows = table.num_rows
            addresses, owners, copied = self._column_addresses(table)
            remember = remember and (small or not copied)
            if remember:
                # The block is kept: it keeps its own targets too.
                y, w = self._target_buffers(rows)
            else:
                y, w = (None if b is None else b[:rows] for b in (y_buffer, w_buffer))
            self._targets_into(table, y, w)
            block = ColumnBlock(start, addresses, like, rows, _readonly(y), _weights(w), owners)
            if remember:
                blocks.append(block)
            yield block
        if remember:
            self._column_cache.extend(blocks)

    def _column_addresses(self, table):
        """The addresses of a piece's feature columns, the arrays that own them,
        and whether any column had to be converted.

        Columns of the kernel dtype held in one buffer without nulls are read
        in place; others are converted, one column at a time. The column
        blocks of tables that stay in memory (in memory or memory-mapped) and
        need no conversion are remembered, with their encoded targets, so
        later epochs only run the kernel.
        """
        owners, copied = [table], False
        addresses = np.empty(len(self._features), np.int64)
        kernel_type = pa.from_numpy_dtype(self.dtype)
        for j, name in enumerate(self._features):
            column = table.column(name)
            if isinstance(column, pa.ChunkedArray) and column.num_chunks == 1:
                column = column.chunk(0)
            if isinstance(column, pa.Array) and column.type == kernel_type and not column.null_count:
                # The data buffer's address, where a slice starts: no array made.
                owners.append(column)
                addresses[j] = column.buffers()[1].address + column.offset * self.dtype.itemsize
                continue
            values = np.ascontiguousarray(_numbers(column, name), dtype=self.dtype)
            copied = True
            owners.append(values)
            addresses[j] = values.ctypes.data
        return readonly(addresses), owners, copied

    def zero_copy_rows(self):
        if not self.random_access:
            return None
        y, w = self._target_buffers(self.n_rows)
        self._targets_into(self._reader.whole(self._columns()), y, w)
        return Block(0, readonly(self._whole), _readonly(y), _weights(w))

    def raw_targets(self):
        return self._column_values(self.target)

    def raw_weights(self):
        return None if self.weight is None else self._column_values(self.weight)

    def _column_values(self, name):
        for k in range(self.n_blocks):
            yield _numbers(self._reader.read(k, [name]).column(0), name)

    def with_target(self, encode, reweight=None):
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._encode = encode
        other._reweight = reweight if encode is not None else None
        other._column_cache = []  # cached blocks carry targets encoded the old way
        other.has_target = encode is not None
        other.weighted = self.weight is not None or other._reweight is not None
        return other


def _first_address(batch):
    buffers = batch.column(0).buffers() if batch.num_columns else []
    return buffers[-1].address if buffers and buffers[-1] is not None else None


def _numbers(column, name):
    """A column as a numpy array (zero-copy when possible); nulls are an error."""
    if column.null_count:
        raise ValueError(
            f"column {name!r} has {column.null_count} null values in one block; "
            "remove or impute them"
        )
    if isinstance(column, pa.ChunkedArray):
        return column.to_numpy()
    return column.to_numpy(zero_copy_only=False)


class _Reader:
    """Natural blocks read one at a time; pieces are slices of them."""

    block_sizes: np.ndarray
    #: Whether the tables read stay at the same place in memory.
    in_memory = True

    def pieces(self, columns, piece):
        """Yield ``(first_row, table)`` for all rows in order, at most ``piece`` rows each.

        Blocks decoded when read (Parquet row groups, compressed batches)
        are read one ahead on another thread once the consumer asks for a
        block's second piece, so decoding overlaps the work on the rows
        (pyarrow releases the GIL): a pass that stops at the first piece
        (``first_row``) decodes one block. At most two blocks are held.
        """
        start = 0
        count = len(self.block_sizes)
        ahead = None
        pool = ThreadPoolExecutor(1, thread_name_prefix="fastgd-read") if not self.in_memory and count > 1 else None
        try:
            for k, size in enumerate(self.block_sizes):
                table = self.read(k, columns) if ahead is None else ahead.result()
                ahead = None
                for offset in range(0, int(size), piece):
                    yield start + offset, table.slice(offset, piece)
                    if pool is not None and ahead is None and k + 1 < count:
                        ahead = pool.submit(self.read, k + 1, columns)
                start += int(size)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)


class TableReader(_Reader):
    """An in-memory table, in natural blocks of ``block`` rows."""

    def __init__(self, table, block):
        self._table = table
        self.schema = table.schema
        self._block = block
        n = table.num_rows
        self.block_sizes = np.diff(np.r_[np.arange(0, n, block), n]).astype(np.int64)

    def read(self, k, columns):
        return self._table.select(columns).slice(k * self._block, self._block)

    def whole(self, columns):
        return self._table.select(columns)

    def pieces(self, columns, piece):
        # Record batches cut at the chunk boundaries of every column: each
        # column of a piece is one buffer, read in place, however the table
        # was assembled (concatenated tables, multi-row-group Parquet reads).
        start = 0
        for batch in self._table.select(columns).to_batches(max_chunksize=piece):
            if batch.num_rows:
                yield start, pa.Table.from_batches([batch])
                start += batch.num_rows


class IpcReader(_Reader):
    """An Arrow IPC (Feather v2) file, memory-mapped; its record batches are the blocks.

    Uncompressed batches are zero-copy views of the map; compressed ones are
    decompressed one at a time, so memory stays bounded by a batch.
    """

    def __init__(self, path):
        self._map = pa.memory_map(str(path), "r")
        self._file = pa.ipc.open_file(self._map)
        self.schema = self._file.schema
        self.block_sizes = np.array(
            [self._batch(k).num_rows for k in range(self._file.num_record_batches)], np.int64
        )
        # Uncompressed batches are views of the map: the same address every read.
        if len(self.block_sizes):
            first, again = self._batch(0), self._batch(0)
            self.in_memory = _first_address(first) == _first_address(again)

    def _batch(self, k):
        batch = self._file.get_batch(k)
        batch.validate()  # buffer sizes against lengths: never read out of bounds
        return batch

    def read(self, k, columns):
        return self._batch(k).select(columns)

    def whole(self, columns):
        return self.read(0, columns) if len(self.block_sizes) == 1 else None

    def null_counts(self, columns):
        counts = dict.fromkeys(columns, 0)
        for k in range(len(self.block_sizes)):
            batch = self.read(k, columns)
            for name in columns:
                counts[name] += batch.column(name).null_count
        return counts


class ParquetReader(_Reader):
    """Parquet files read through ``pyarrow.dataset``; their row groups are the blocks.

    Each block is one row group, decoded when it is needed: memory stays
    bounded by the row-group size, whatever the size of the dataset.
    """

    in_memory = False

    def __init__(self, row_groups, sizes, schema):
        self._row_groups = row_groups
        self.block_sizes = np.asarray(sizes, np.int64)
        self.schema = schema

    def read(self, k, columns):
        return self._row_groups[k].to_table(columns=columns)

    def whole(self, columns):
        return None
