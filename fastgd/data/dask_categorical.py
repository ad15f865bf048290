"""Dask DataFrames with categorical columns: coded partitions on the workers.

Each partition is coded on its worker, once (a :class:`~fastgd.data.coded.CodedX`,
persisted with the data), by the same code as local tables
(:class:`~fastgd.data.categorical.CodedArrowSource`); the solver then runs the
local sparse kernels on it, as for every Dask source (see :mod:`fastgd.data.dask`).
"""

import copy

import numpy as np

from .._validation import check_target
from .categorical import Layout
from .dask import DaskSource, _encoded, _on_partition, column_array, frame_parts, is_dask_collection


def is_categorical_dtype(dtype):
    """Whether a pandas dtype is taken as categorical: ``category`` and strings."""
    import pandas as pd

    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def has_coded_columns(frame, features, coding):
    """Whether the features of ``frame`` include a categorical column."""
    names = list(features or frame.columns)
    if coding is not None and coding.categories is not None:
        return any(n in coding.categories for n in names)
    return any(is_categorical_dtype(frame.dtypes[n]) for n in names)


class DaskCodedSource(DaskSource):
    """A Dask DataFrame with categorical columns: each partition is coded on
    its worker, once (:class:`~fastgd.data.coded.CodedX`), with one global
    mapping per column built from all partitions (their categorical columns
    only) when the source is made, or given (a fitted model's).

    On Dask, unseen categories at prediction add nothing without a count
    (each worker codes its own partition); ``handle_unknown="error"`` raises.
    """

    sparse = True

    def __init__(self, frame, features, coded, target, weight, persist, coding, values=(None, None)):
        import dask

        from .categorical import build_frame_categories

        named = [c for c in (target, weight) if c is not None]
        parts, lengths = frame_parts(frame, list(features) + named, persist)
        numeric = [n for n in features if n not in coded]
        if coding.categories is not None:
            categories = [coding.categories[n] for n in coded]
        else:
            found = dask.compute(*[
                dask.delayed(_on_partition)(build_frame_categories, k, part, coded, coding.max_categories)
                for k, part in enumerate(parts)
            ])
            categories = found[0]
            from .categories import merged

            for other in found[1:]:
                categories = [merged(a, b, coding.max_categories) for a, b in zip(categories, other)]
        dtypes = [frame.dtypes[n] for n in numeric]
        self.dtype = np.dtype(np.float32 if dtypes and all(t == np.float32 for t in dtypes) else np.float64)
        spec = (numeric, categories, list(features), self.dtype, coding.handle_unknown)
        self._coded = [dask.delayed(_on_partition)(_coded_partition, k, part, spec) for k, part in enumerate(parts)]
        if persist:
            self._coded = list(dask.persist(*self._coded))
        self.persisted = persist
        self._raw_y = column_array(frame, parts, lengths, target) if target is not None else _chunked(values[0], lengths, "y")
        w = column_array(frame, parts, lengths, weight) if weight is not None else _chunked(values[1], lengths, "sample_weight")
        self._w = None if w is None else w.astype(np.float64)
        self._y = None
        self._categories = categories
        self._layout = Layout(numeric, categories)
        self.n_rows = int(sum(lengths))
        self.n_features = self._layout.n_features
        self.feature_names = self._layout.feature_names()
        self.input_names = [str(c) for c in features]
        self.block_sizes = np.asarray(lengths, np.int64)
        self.has_target = False
        self.weighted = self._w is not None
        self._split = None

    categories = property(lambda self: {c.name: c for c in self._categories})

    def centrable(self):
        return self._layout.centrable()

    def partitions(self):
        y = self._y.to_delayed().ravel() if self._y is not None else [None] * len(self._coded)
        w = self._w.to_delayed().ravel() if self._w is not None else [None] * len(self._coded)
        return list(zip(self._coded, y, w))

    def first_row(self):
        import dask

        return dask.compute(self._coded[0])[0].row_shift(0)

    def with_target(self, encode, reweight=None):
        import dask

        other = copy.copy(self)
        other._y = None if encode is None else self._raw_y.map_blocks(_encoded, encode, dtype=np.float64)
        w = self._w
        if encode is not None and reweight is not None:
            factor = self._raw_y.map_blocks(_encoded, reweight, dtype=np.float64)
            w = factor if w is None else factor * w
        other._w = w
        if other.persisted and encode is not None:
            other._y, other._w = dask.persist(other._y, other._w) if w is not None else (dask.persist(other._y)[0], None)
        other.has_target = encode is not None
        other.weighted = w is not None
        return other

    def decision(self, fn, args, width, dtype):
        import dask
        import dask.array as da

        return da.concatenate([
            da.from_delayed(dask.delayed(fn)(X, *args), (int(rows),) if width is None else (int(rows), width), dtype=dtype)
            for X, rows in zip(self._coded, self.block_sizes)
        ])


def _coded_partition(frame, spec):
    """One partition's features as coded rows, on its worker."""
    import pyarrow as pa

    from .arrow import TableReader
    from .categorical import CodedArrowSource

    numeric, categories, features, dtype, handle_unknown = spec
    table = pa.Table.from_pandas(frame[features], preserve_index=False)
    source = CodedArrowSource(TableReader(table, max(1, len(frame))), numeric, categories, features, dtype,
                              handle_unknown=handle_unknown)
    return source.coded_rows()


def _chunked(values, lengths, name):
    """Values given beside a frame as a Dask array chunked like its partitions (None stays None)."""
    import dask.array as da

    if values is None:
        return None
    n = int(sum(lengths))
    if is_dask_collection(values):
        values = values.to_dask_array(lengths=True) if hasattr(values, "to_dask_array") else values
        if values.ndim != 1 or values.shape[0] != n:
            raise ValueError(f"X has {n} rows but {name} has shape {values.shape}; they must match")
        return values.rechunk((tuple(int(r) for r in lengths),))
    return da.from_array(check_target(values, n, name=name), chunks=(tuple(int(r) for r in lengths),))
