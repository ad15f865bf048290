"""Dask collections as a source: the partitions stay on the workers.

Nothing here imports dask until a Dask collection is actually given. The
rows of a :class:`DaskSource` are never gathered on the client: the solver
hands it functions to run on each partition, and only their small results
(partial sums, or the optimizer state of a sequential pass) cross the
network.
"""

import copy
import operator

import numpy as np

from .._config import REDUCE_FAN_IN
from .._threads import limited
from .._validation import check_target, is_sparse, kernel_dtype
from .arrays import ArraySource
from .sparse import SparseSource, as_csr
from .base import Source, shift_rows
from .coded import is_coded
from .columns import resolve_columns
from .dataset import Dataset


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection, checked without importing dask."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "__dask_graph__")


class DaskSource(Source):
    """A row-partitioned Dask array (with targets and weights), persisted once.

    It answers the source protocol by running the local code on each
    partition, on its worker: :meth:`reduce` folds each partition with
    :meth:`LocalSource.reduce <fastgd.data.base.LocalSource.reduce>` and
    merges the results in a fixed tree; :meth:`epochs` threads the carry
    from partition to partition, each running a local epoch plan.

    Parameters
    ----------
    X : dask array (n, d) of numbers; rechunked to one chunk across columns
    raw_y, w : dask arrays (n,) with the same row chunks, or None
    feature_names : list of str, optional
    persist : bool
        Keep the partitions in the workers' memory (the default), so epochs
        do not recompute them from their source.
    """

    def __init__(self, X, raw_y=None, w=None, feature_names=None, persist=True, y=None):
        import dask

        if X.dtype.kind not in "biuf":
            raise TypeError(f"X has dtype {X.dtype}; fastgd needs numbers (bool, integer or float)")
        X = X.rechunk({1: -1})
        rows = X.chunks[0]
        arrays = [X] + [a.rechunk((rows,)) for a in (raw_y, w, y) if a is not None]
        self.persisted = persist
        if persist:
            arrays = list(dask.persist(*arrays))
        self._X = arrays.pop(0)
        self._raw_y = arrays.pop(0) if raw_y is not None else None
        self._w = arrays.pop(0) if w is not None else None
        self._y = arrays.pop(0) if y is not None else None
        self.n_rows, self.n_features = self._X.shape
        self.dtype = kernel_dtype(self._X.dtype)
        self.feature_names = feature_names
        self.block_sizes = np.asarray(rows, np.int64)
        self.has_target = self._y is not None
        self.weighted = self._w is not None
        #: Chunks are scipy.sparse matrices (checked once, here, on the workers).
        self.sparse = is_sparse(getattr(self._X, "_meta", None))
        #: The rows kept of each partition (see :meth:`subset`), or None for all.
        self._split = None
        if self.sparse:
            dask.compute(*[
                dask.delayed(_on_partition)(_checked_sparse, k, X, start)
                for k, ((X, _, _), start) in enumerate(zip(self.partitions(), self.block_starts()))
            ])

    @property
    def n_partitions(self):
        return len(self.block_sizes)

    def partitions(self):
        """Per partition: the delayed ``(X, y, w)`` blocks (``y``, ``w`` may be None)."""
        X = self._X.to_delayed().ravel()
        y = self._y.to_delayed().ravel() if self._y is not None else [None] * len(X)
        w = self._w.to_delayed().ravel() if self._w is not None else [None] * len(X)
        return list(zip(X, y, w))

    def reduce(self, fn, args, init, combine, columns=False):
        """One round trip: the partitions' folds and their merge, as a tree in
        one graph. The pairing is fixed by the partition order, so the result
        is the same however the tasks are scheduled (or retried)."""
        import dask

        parts = [
            dask.delayed(_on_partition)(_reduce_partition, k, k, X, y, w, self._split, fn, args, init)
            for k, (X, y, w) in enumerate(self.partitions())
        ]
        # The partial sums are tiny, so a wide tree costs no memory; each level
        # it saves is a hop between workers.
        fan_in = max(2, int(dask.config.get("split_every", REDUCE_FAN_IN)))
        while len(parts) > 1:
            groups = [parts[i : i + fan_in] for i in range(0, len(parts), fan_in)]
            parts = [dask.delayed(_combined)(combine, *group) if len(group) > 1 else group[0] for group in groups]
        return dask.compute(parts[0])[0]

    def first_message(self, fn, args):
        """The first message over the partitions (in order), naming the
        partition and with rows counted from the start of the data."""
        import dask

        messages = dask.compute(*[
            dask.delayed(_first_message_partition)(k, X, y, w, self._split, fn, args)
            for k, (X, y, w) in enumerate(self.partitions())
        ])
        starts = self.block_starts()
        for k, message in enumerate(messages):
            if message is not None:
                return shift_rows(message, int(starts[k])) + f" (partition {k})"
        return None

    def epochs(self, shuffle, buffer_rows, batch_size):
        return _DaskEpochs(self, shuffle, buffer_rows, batch_size)

    def subset(self, split):
        other = object.__new__(DaskSource)
        other.__dict__.update(self.__dict__)
        other._split = split
        other.n_rows = int(other.reduce(_count_rows, (), 0, operator.add))
        return other

    def first_row(self):
        if self.sparse:
            return np.zeros(self.n_features)  # a shift would fill the zeros in
        return np.asarray(self._X[0].compute(), dtype=np.float64)

    def target_counts(self, name="the target"):
        import dask
        import dask.array as da

        try:
            return dask.compute(*da.unique(self._raw_y, return_counts=True))
        except TypeError:
            raise TypeError(
                f"{name} mixes values of types that cannot be sorted together (numbers and strings): "
                "give values of one type"
            ) from None

    def raw_target_values(self):
        import dask

        return dask.compute(self._raw_y, self._w)

    def check_weights(self):
        """Raise a clear error for a negative, NaN or infinite weight, or weights summing to 0."""
        problem = self.first_message(weights_message, ())
        if problem is not None:
            raise ValueError(problem)
        if not self.reduce(_weight_sum, (), 0.0, operator.add) > 0:
            raise ValueError("sample_weight sums to zero; at least one row needs a positive weight")

    def with_target(self, encode, reweight=None):
        y = w = None
        if encode is not None:
            y = self._raw_y.map_blocks(_encoded, encode, dtype=np.float64)
            if reweight is not None:
                factor = self._raw_y.map_blocks(_encoded, reweight, dtype=np.float64)
                w = factor if self._w is None else factor * self._w
        if w is None:
            w = self._w
        other = DaskSource(
            self._X, raw_y=self._raw_y, w=w, feature_names=self.feature_names,
            persist=self.persisted and encode is not None, y=y,
        )
        if self._split is not None:
            other = other.subset(self._split)
        return other

    def decision(self, fn, args, width, dtype):
        """A dask array of ``fn(X_block, *args)``, computed on the workers."""
        if width is None:
            return self._X.map_blocks(fn, *args, drop_axis=1, dtype=dtype)
        return self._X.map_blocks(fn, *args, chunks=(self._X.chunks[0], (width,)), dtype=dtype)


class _DaskEpochs:
    """Mini-batch epochs over Dask partitions: partitions in a seeded random
    order, each running a local epoch plan on its worker; the carry (the
    parameters and the optimizer state) travels from partition to partition,
    in one graph per epoch."""

    def __init__(self, source, shuffle, buffer_rows, batch_size):
        self.source = source
        self.settings = (shuffle, buffer_rows, batch_size)

    def run(self, step, carry, rng):
        import dask

        source = self.source
        n = source.n_partitions
        shuffle = self.settings[0]
        order = rng.permutation(n) if shuffle else np.arange(n)
        seeds = rng.integers(2**63, size=n) if shuffle else np.zeros(n, np.int64)
        partitions = source.partitions()
        for k, seed in zip(order, seeds):
            X, y, w = partitions[k]
            carry = dask.delayed(_on_partition)(
                _epoch_partition, int(k), int(k), X, y, w, source._split, step, carry, int(seed), self.settings
            )
        return dask.compute(carry)[0]


def _local(k, X, y, w, split):
    """Partition ``k`` as a local source, on its worker; only its kept rows with a split."""
    local = partition_source(X, y, w)
    if split is None:
        return local
    from .subset import SubsetSource

    return SubsetSource(local, split.selections(local.block_sizes, key=k))


def _reduce_partition(k, X, y, w, split, fn, args, init):
    return _local(k, X, y, w, split).reduce(fn, args, init)


def _first_message_partition(k, X, y, w, split, fn, args):
    return _local(k, X, y, w, split).first_message(fn, args)


def _epoch_partition(k, X, y, w, split, step, carry, seed, settings):
    """Mini-batches over one partition; works on a copy of the carry, so a
    retried task starts from the same state."""
    local = _local(k, X, y, w, split)
    return local.epochs(*settings).run(step, copy.deepcopy(carry), np.random.default_rng(seed))


def _count_rows(block, total):
    return total + (len(block.rows) if len(block.rows) else block.X.shape[0])


def _weight_sum(block, total):
    rows = block.rows if len(block.rows) else slice(None)
    return total + float(np.sum(block.w[rows])) if len(block.w) else total


def weights_message(blocks):
    """A message naming the first negative or non-finite weight of ``blocks``, or None."""
    for block in blocks:
        if not len(block.w):
            continue
        bad = ~(np.isfinite(block.w) & (block.w >= 0))
        if bad.any():
            i = int(np.argmax(bad))
            return f"sample_weight has {block.w[i]} at row {block.start + i}; weights must be finite and >= 0"
    return None


def partition_source(X, y, w):
    """One partition's blocks, on its worker, as a source of their own."""
    y = None if y is None else np.asarray(y, dtype=np.float64)
    w = None if w is None else np.asarray(w, dtype=np.float64)
    if is_sparse(X):
        return SparseSource(as_csr(X, check_values=False), y, w)  # checked when the source was made
    if is_coded(X):
        from .categorical import CodedRowsSource

        return CodedRowsSource(X, y, w)
    return ArraySource(np.asarray(X), y=y, w=w)


def _checked_sparse(X, start):
    """Check a sparse chunk; rows in a message count from the start of the data."""
    try:
        as_csr(X)
    except ValueError as error:
        raise ValueError(shift_rows(str(error), int(start))) from None


def _encoded(values, function):
    return np.asarray(function(values), dtype=np.float64)


def _combined(combine, first, *rest):
    """``combine`` folded over the values in the order given."""
    for value in rest:
        first = combine(first, value)
    return first


def _on_partition(fn, k, *args):
    """``fn(*args)``, naming partition ``k`` in any data error it raises.

    Dask's nanny sets ``OMP_NUM_THREADS`` (to 1) so that a worker's tasks do
    not oversubscribe its cores; the compiled kernels follow the same rule
    (see :func:`fastgd._threads.limited`).
    """
    try:
        with limited():
            return fn(*args)
    except (ValueError, TypeError) as error:
        raise type(error)(f"partition {k}: {error}") from error


def from_dataframe(frame, target=None, features=None, weight=None, persist=True, coding=None, values=(None, None)):
    """A :class:`DaskSource` of a dask DataFrame's columns; with categorical
    columns (pandas ``category`` or string), a :class:`DaskCodedSource`,
    whose target and weights may also be given as ``values`` (arrays)."""
    from .categorical import Coding
    from .dask_categorical import DaskCodedSource, is_categorical_dtype  # it imports this module

    coding = coding or Coding()
    dtypes = frame.dtypes

    def categorical(name):
        return name in coding.categories if coding.categories is not None else is_categorical_dtype(dtypes[name])

    features = resolve_columns(
        list(frame.columns), target, weight, features, lambda c: dtypes[c].kind in "biuf" or categorical(c)
    )
    coded = [n for n in features if categorical(n)]
    for name in features:
        if dtypes[name].kind not in "biuf" and name not in coded:
            raise TypeError(f"feature column {name!r} has type {dtypes[name]}; features must be numeric")
    if coded:
        source = DaskCodedSource(frame, features, coded, target, weight, persist, coding, values)
        if source.weighted:
            source.check_weights()
        return source
    X, raw_y, w = frame_arrays(frame, features, target, weight, persist=persist)
    source = DaskSource(
        X, raw_y=raw_y, w=None if w is None else w.astype(np.float64), feature_names=[str(c) for c in features],
        persist=persist,
    )
    if source.weighted:
        source.check_weights()
    return source


def frame_arrays(frame, features, *columns, persist=True):
    """Dask arrays of ``frame[features]`` and of each named column (None stays None)."""
    parts, lengths = frame_parts(frame, list(features) + [c for c in columns if c is not None], persist)
    return (
        column_array(frame, parts, lengths, list(features)),
        *(None if c is None else column_array(frame, parts, lengths, c) for c in columns),
    )


def frame_parts(frame, columns, persist):
    """The delayed partitions of ``frame[columns]`` and their row counts.

    The partitions are fixed first, through ``to_delayed``: Dask may otherwise
    regroup a lazy frame's partitions (small Parquet files, say) differently
    for each graph built from it, and the arrays must line up row for row.
    ``persist`` keeps the partitions on the workers while their row counts
    are taken, so the files are read once.
    """
    import dask

    parts = frame[columns].to_delayed()
    if persist:
        parts = dask.persist(*parts)
    return parts, dask.compute(*[dask.delayed(len)(part) for part in parts])


def column_array(frame, parts, lengths, selection):
    """A dask array of the column ``selection`` (or columns, a list) of the partitions."""
    import dask
    import dask.array as da

    dtype = frame[selection].to_dask_array().dtype
    shape = (len(selection),) if isinstance(selection, list) else ()
    return da.concatenate([
        da.from_delayed(dask.delayed(_on_partition)(_values, k, part, selection), (rows, *shape), dtype=dtype)
        for k, (part, rows) in enumerate(zip(parts, lengths))
    ])


def _values(part, selection):
    """The numpy values of one partition's columns; features must be numeric
    here too, as the files of one dataset may disagree."""
    if isinstance(selection, list):
        for name, dtype in part[selection].dtypes.items():
            if dtype.kind not in "biuf":
                raise TypeError(f"feature column {name!r} has type {dtype}; features must be numeric")
    return part[selection].to_numpy()


def open_parquet(path, target=None, features=None, weight=None, persist=True, coding=None):
    """A Parquet file or directory, read by Dask on the workers."""
    import dask.dataframe as dd

    source = from_dataframe(dd.read_parquet(str(path)), target, features, weight, persist, coding)
    return Dataset(source, f"Parquet data {path} (read by Dask)", target=target, weight=weight)


def open_collection(data, target=None, features=None, weight=None, persist=True, coding=None):
    """A Dask array or DataFrame, with target and weights as column names or as values."""
    if hasattr(data, "columns") and (target is None or isinstance(target, str)):
        source = from_dataframe(data, target, features, weight, persist, coding)
        return Dataset(source, "Dask DataFrame", target=target, weight=weight)
    from .dask_categorical import has_coded_columns  # it imports this module

    if hasattr(data, "columns") and has_coded_columns(data, features, coding):
        # fit(frame, y): every column is a feature, y and the weights are values.
        source = from_dataframe(data, None, features, None, persist, coding, values=(target, weight))
        return Dataset(source, "Dask DataFrame", target="y")
    source = dask_arrays(data, target, weight, persist=persist)
    return Dataset(source, "Dask data", target=None if target is None else "y")


def open_for_prediction(X, feature_names=None, coding=None):
    """A target-free Dataset of a Dask collection, its columns in the fitted order."""
    if hasattr(X, "columns") and feature_names is not None:
        missing = [n for n in feature_names if n not in list(map(str, X.columns))]
        if missing:
            raise ValueError(f"X lacks feature columns the model was fitted with: {', '.join(map(repr, missing))}")
    if hasattr(X, "columns") and coding is not None and coding.categories:
        return Dataset(from_dataframe(X, features=feature_names, persist=False, coding=coding), "Dask DataFrame")
    names = feature_names if hasattr(X, "columns") else None
    return Dataset(dask_arrays(X, feature_names=names, persist=False), "Dask data")


def dask_arrays(X, y=None, sample_weight=None, feature_names=None, persist=True):
    """A Dask source of a Dask array or DataFrame ``X`` with its target and weights."""
    import dask.array as da

    if hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns] if feature_names is None else feature_names
        (X,) = frame_arrays(X, feature_names, persist=persist)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array, got {X.ndim} dimensions")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    rows = X.chunks[0]

    def aligned(values, name):
        if values is None:
            return None
        if is_dask_collection(values):
            values = values.to_dask_array(lengths=True) if hasattr(values, "to_dask_array") else values
            if values.ndim != 1 or values.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} rows but {name} has shape {values.shape}; they must match")
            return values.rechunk((rows,))
        values = check_target(values, X.shape[0], name=name)
        return da.from_array(values, chunks=(rows,))

    source = DaskSource(
        X, raw_y=aligned(y, "y"), w=aligned(sample_weight, "sample_weight"), feature_names=feature_names,
        persist=persist,
    )
    if source.weighted:
        source.check_weights()
    return source

