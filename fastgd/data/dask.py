"""Dask collections as a source: the partitions stay on the workers.

Nothing here imports dask until a Dask collection is actually given. The
rows of a :class:`DaskSource` are never gathered on the client: the solver
hands it functions to run on each partition, and only their small results
(partial sums, or the optimizer state of a sequential pass) cross the
network.
"""

import os

import numba
import numpy as np

from .._config import REDUCE_FAN_IN
from .._validation import kernel_dtype
from .arrays import ArraySource
from .base import Source
from .columns import resolve_columns


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection, checked without importing dask."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "__dask_graph__")


class DaskSource(Source):
    """A row-partitioned Dask array (with targets and weights), persisted once.

    Parameters
    ----------
    X : dask array (n, d) of numbers; rechunked to one chunk across columns
    raw_y, w : dask arrays (n,) with the same row chunks, or None
    feature_names : list of str, optional
    persist : bool
        Keep the partitions in the workers' memory (the default), so epochs
        do not recompute them from their source.
    """

    distributed = True

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

    @property
    def n_partitions(self):
        return len(self.block_sizes)

    def partitions(self):
        """Per partition: the delayed ``(X, y, w)`` blocks (``y``, ``w`` may be None)."""
        X = self._X.to_delayed().ravel()
        y = self._y.to_delayed().ravel() if self._y is not None else [None] * len(X)
        w = self._w.to_delayed().ravel() if self._w is not None else [None] * len(X)
        return list(zip(X, y, w))

    def map_reduce(self, fn, args, combine):
        """``combine``-reduce ``fn(X, y, w, *args)`` over the partitions, as a tree.

        One round trip: the whole tree is one graph, computed once. The
        pairing is fixed by the partition order, so the result is the same
        however the tasks are scheduled (or retried).
        """
        import dask

        parts = [
            dask.delayed(_on_partition)(fn, k, X, y, w, *args) for k, (X, y, w) in enumerate(self.partitions())
        ]
        # The partial sums are tiny, so a wide tree costs no memory; each level
        # it saves is a hop between workers.
        fan_in = max(2, int(dask.config.get("split_every", REDUCE_FAN_IN)))
        while len(parts) > 1:
            groups = [parts[i : i + fan_in] for i in range(0, len(parts), fan_in)]
            parts = [dask.delayed(_combined)(combine, *group) if len(group) > 1 else group[0] for group in groups]
        return dask.compute(parts[0])[0]

    def chain(self, fn, carry, order, seeds, args):
        """Thread ``carry`` through ``fn(X, y, w, carry, seed, *args)`` over the
        partitions in ``order``: one graph, computed once, each step on the
        worker that holds its partition."""
        import dask

        partitions = self.partitions()
        state = carry
        for k, seed in zip(order, seeds):
            X, y, w = partitions[k]
            state = dask.delayed(_on_partition)(fn, int(k), X, y, w, state, seed, *args)
        return dask.compute(state)[0]

    def first_message(self, fn, args):
        """The first message ``fn(X, y, w, *args)`` returns over the partitions (in
        order), naming the partition and with rows counted from the start of the
        data; None if every partition returns None."""
        import dask

        messages = dask.compute(*[dask.delayed(fn)(X, y, w, *args) for X, y, w in self.partitions()])
        starts = self.block_starts()
        for k, message in enumerate(messages):
            if message is not None:
                return _shift_rows(message, int(starts[k])) + f" (partition {k})"
        return None

    def first_row(self):
        return np.asarray(self._X[0].compute(), dtype=np.float64)

    def raw_targets(self):
        raise ValueError("a Dask source keeps its targets on the workers")

    def target_counts(self):
        import dask
        import dask.array as da

        return dask.compute(*da.unique(self._raw_y, return_counts=True))

    def with_target(self, encode, reweight=None):
        y = w = None
        if encode is not None:
            y = self._raw_y.map_blocks(_encoded, encode, dtype=np.float64)
            if reweight is not None:
                factor = self._raw_y.map_blocks(_encoded, reweight, dtype=np.float64)
                w = factor if self._w is None else factor * self._w
        if w is None:
            w = self._w
        return DaskSource(
            self._X, raw_y=self._raw_y, w=w, feature_names=self.feature_names, persist=self.persisted and encode is not None, y=y
        )

    def predict(self, fn, theta, n_out):
        """A dask array of ``fn(X_block, theta, n_out)``, computed on the workers."""
        if n_out == 1:
            return self._X.map_blocks(fn, theta, n_out, drop_axis=1, dtype=np.float64)
        chunks = (self._X.chunks[0], (n_out,))
        return self._X.map_blocks(fn, theta, n_out, chunks=chunks, dtype=np.float64)

    def blocks(self):
        raise ValueError(
            "a Dask source is read on the workers, partition by partition; this operation "
            "would gather it on the client"
        )


def partition_source(X, y, w):
    """One partition's blocks, on its worker, as a source of their own."""
    return ArraySource(
        np.asarray(X), y=None if y is None else np.asarray(y, dtype=np.float64),
        w=None if w is None else np.asarray(w, dtype=np.float64),
    )


def _shift_rows(message, start):
    """Renumber ``at row i`` in a partition's message as a row of the whole data."""
    import re

    return re.sub(r"at row (\d+)", lambda m: f"at row {int(m.group(1)) + start}", message)


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
    not oversubscribe its cores; the compiled kernels follow the same rule.
    """
    threads = os.environ.get("OMP_NUM_THREADS", "")
    before = numba.get_num_threads()  # per thread: restored for the thread's other work
    if threads.isdigit():
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        return fn(*args)
    except (ValueError, TypeError) as error:
        raise type(error)(f"partition {k}: {error}") from error
    finally:
        numba.set_num_threads(before)


def from_dataframe(frame, target=None, features=None, weight=None, persist=True):
    """A :class:`DaskSource` of a dask DataFrame's columns."""
    dtypes = frame.dtypes
    features = resolve_columns(list(frame.columns), target, weight, features, lambda c: dtypes[c].kind in "biuf")
    for name in features:
        if dtypes[name].kind not in "biuf":
            raise TypeError(f"feature column {name!r} has type {dtypes[name]}; features must be numeric")
    X, raw_y, w = frame_arrays(frame, features, target, weight, persist=persist)
    return DaskSource(
        X, raw_y=raw_y, w=None if w is None else w.astype(np.float64), feature_names=[str(c) for c in features],
        persist=persist,
    )


def frame_arrays(frame, features, *columns, persist=True):
    """Dask arrays of ``frame[features]`` and of each named column (None stays None).

    The partitions are fixed first, through ``to_delayed``: Dask may otherwise
    regroup a lazy frame's partitions (small Parquet files, say) differently
    for each graph built from it, and the arrays must line up row for row.
    ``persist`` keeps the partitions on the workers while their row counts
    are taken, so the files are read once.
    """
    import dask
    import dask.array as da

    named = [c for c in columns if c is not None]
    parts = frame[list(features) + named].to_delayed()
    if persist:
        parts = dask.persist(*parts)
    lengths = dask.compute(*[dask.delayed(len)(part) for part in parts])

    def array(selection):
        dtype = frame[selection].to_dask_array().dtype
        shape = (len(selection),) if isinstance(selection, list) else ()
        return da.concatenate([
            da.from_delayed(dask.delayed(_on_partition)(_values, k, part, selection), (rows, *shape), dtype=dtype)
            for k, (part, rows) in enumerate(zip(parts, lengths))
        ])

    return (array(list(features)), *(None if c is None else array(c) for c in columns))


def _values(part, selection):
    """The numpy values of one partition's columns; features must be numeric
    here too, as the files of one dataset may disagree."""
    if isinstance(selection, list):
        for name, dtype in part[selection].dtypes.items():
            if dtype.kind not in "biuf":
                raise TypeError(f"feature column {name!r} has type {dtype}; features must be numeric")
    return part[selection].to_numpy()


def read_parquet(path, target=None, features=None, weight=None, persist=True):
    """A directory of Parquet files, read by Dask on the workers."""
    import dask.dataframe as dd

    frame = dd.read_parquet(str(path))
    return from_dataframe(frame, target=target, features=features, weight=weight, persist=persist)

