"""What ``fit`` and ``predict`` accept, turned into a :class:`Dataset`."""

import numpy as np
import pyarrow as pa

from .._validation import check_sample_weight, check_target, check_X
from .arrays import ArraySource
from .dask import is_dask_collection
from .dataset import Dataset, as_arrow_table, open_dataset

_TARGET = "__fastgd_target__"
_WEIGHT = "__fastgd_weight__"


def training_data(X, y=None, sample_weight=None):
    """A :class:`Dataset` with a raw target for ``fit(X, y, sample_weight)``.

    ``X`` may be a Dataset (which brings its own target and weights), a
    pyarrow Table, a pandas or polars DataFrame (every column a feature), or
    any 2-D array-like.
    """
    if isinstance(X, Dataset):
        if y is not None:
            raise ValueError("a Dataset carries its own target; pass y only with an array or table X")
        if sample_weight is not None:
            raise ValueError(
                "a Dataset carries its own weights; open it with open_dataset(..., weight=column)"
            )
        if X.target is None:
            raise ValueError(
                f"{X.description} has no target; open it with open_dataset(..., target=column)"
            )
        return X
    if y is None:
        raise ValueError("y is required: call fit(X, y), or fit(dataset) with a Dataset from open_dataset")
    if is_dask_collection(X):
        return Dataset(dask_arrays(X, y, sample_weight), "Dask data", target="y")
    table = as_arrow_table(X)
    if table is None:
        X = check_X(X)
        y = check_target(y, X.shape[0])
        w = check_sample_weight(sample_weight, X.shape[0])
        return Dataset(ArraySource(X, raw_y=y, w=w if w.shape[0] else None), "array", target="y")
    n = table.num_rows
    if n == 0:
        raise ValueError("X has 0 rows; at least 1 row is required")
    features = table.column_names
    table = table.append_column(_TARGET, pa.array(np.asarray(check_target(y, n))))
    weight = None
    if sample_weight is not None:
        table = table.append_column(_WEIGHT, pa.array(check_sample_weight(sample_weight, n)))
        weight = _WEIGHT
    return open_dataset(table, target=_TARGET, features=features, weight=weight)


def dask_arrays(X, y=None, sample_weight=None, feature_names=None, persist=True):
    """A Dask source of a Dask array or DataFrame ``X`` with its target and weights."""
    import dask.array as da

    from .dask import DaskSource, frame_arrays

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

    return DaskSource(
        X, raw_y=aligned(y, "y"), w=aligned(sample_weight, "sample_weight"), feature_names=feature_names,
        persist=persist,
    )


def prediction_data(X, feature_names=None):
    """A target-free :class:`Dataset` of ``X``, its features in the fitted order."""
    if is_dask_collection(X):
        if hasattr(X, "columns") and feature_names is not None:
            missing = [n for n in feature_names if n not in list(map(str, X.columns))]
            if missing:
                raise ValueError(f"X lacks feature columns the model was fitted with: {', '.join(map(repr, missing))}")
        names = feature_names if hasattr(X, "columns") else None
        return Dataset(dask_arrays(X, feature_names=names, persist=False), "Dask data")
    if isinstance(X, Dataset):
        dataset = X
    else:
        table = as_arrow_table(X)
        if table is None:
            return Dataset(ArraySource(check_X(X)), "array")
        dataset = open_dataset(table)
    if feature_names is not None and dataset.feature_names is not None:
        have = list(dataset.feature_names)
        if have != list(feature_names):
            available = dataset.columns or have
            missing = [n for n in feature_names if n not in available]
            if missing:
                extra = [n for n in have if n not in feature_names]
                raise ValueError(
                    f"X lacks feature columns the model was fitted with: {', '.join(map(repr, missing))}"
                    + (f"; it has columns the model does not know: {', '.join(map(repr, extra))}" if extra else "")
                )
            dataset = dataset.select(feature_names)
    return dataset
