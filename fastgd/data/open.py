"""One way in: every kind of input, dispatched once to the module that opens it.

:func:`open_dataset` (files, tables, frames, arrays, Dask collections) and
the estimators' :func:`training_data` / :func:`prediction_data` go through
the same table, :data:`KINDS`, of ``(name, recognises, opens)``; a new kind
of data is one module with an opener and one row here. A target and weights
are given either as column names (tables, frames, files) or as values
(arrays, and the ``y`` of ``fit(X, y)``, appended to a table as a column).
"""

import numbers
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from .._validation import check_integer, check_sample_weight, check_target, is_sparse, mixed_types
from . import arrays, dask, sparse, tables
from .categorical import Coding
from .categories import MAX_CATEGORIES
from .columns import MissingColumnsError
from .dataset import Dataset
from .files import magic

_PARQUET = {".parquet", ".pq", ".parq"}
_IPC = {".arrow", ".feather", ".ipc", ".arrows"}
_CSV = {".csv", ".tsv"}
_COMPRESSED = {".gz", ".bz2"}
#: Column names under which ``fit(table, y, sample_weight)`` appends its values.
TARGET_COLUMN = "__fastgd_target__"
WEIGHT_COLUMN = "__fastgd_weight__"


def _is_path(data):
    return isinstance(data, (str, os.PathLike))


def _is_path_pair(data):
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(map(_is_path, data))


def _open_path(path, target, features, weight, engine, persist, coding=None):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: '{path}'")
    if engine == "dask":
        return dask.open_parquet(path, target, features, weight, persist, coding)
    suffix = path.suffix.lower()
    from . import csr_store, svmlight  # sparse rows on disk

    if path.is_dir() and csr_store.is_store(path):  # a directory with a fastgd-csr meta.json
        return csr_store.open_store(path, target, features, weight)
    if svmlight.is_svmlight_path(path):  # .svm, .svmlight, .libsvm (.gz, .bz2): via a CSR store
        return svmlight.open_svmlight(path, target, features, weight)
    if suffix in _COMPRESSED and path.with_suffix("").suffix.lower() in _CSV:
        return tables.open_csv(path, target, features, weight, coding)
    if path.is_dir() or suffix in _PARQUET:
        return tables.open_parquet(path, target, features, weight, coding)
    if suffix == ".npy":
        return arrays.open_npy(path, target)
    if suffix in _CSV:
        return tables.open_csv(path, target, features, weight, coding)
    kind = magic(path)
    if suffix in _IPC or kind == b"ARROW1":
        return tables.open_ipc(path, target, features, weight, coding)
    if kind == b"PAR1":
        return tables.open_parquet(path, target, features, weight, coding)
    raise ValueError(
        f"cannot tell the format of '{path}'; use a .parquet, .arrow/.feather, .csv (or .csv.gz), .npy or "
        ".svm/.libsvm file, or a CSR store directory"
    )


def _open_table(data, target, features, weight, engine, persist, coding=None):
    table = tables.as_arrow_table(data)
    name = type(data).__name__
    if target is not None and not isinstance(target, str):
        # fit(X, y): every column of X is a feature.
        features = features or table.column_names
        if table.num_rows == 0:
            raise ValueError("X has 0 rows; at least 1 row is required")
        values = np.asarray(check_target(target, table.num_rows))
        try:
            column = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise mixed_types(values) from None
        table = table.append_column(TARGET_COLUMN, column)
        target = TARGET_COLUMN
        if weight is not None:
            table = table.append_column(WEIGHT_COLUMN, pa.array(check_sample_weight(weight, table.num_rows)))
            weight = WEIGHT_COLUMN
    dataset = tables.open_table(table, name, target, features, weight, coding)
    dataset.origin = table
    return dataset


def _open_array(data, target, features, weight, engine, persist, coding=None):
    if _is_path(target):
        return arrays.open_npy_target(data, target)
    return arrays.open_array(data, target, weight)


def _open_dask(data, target, features, weight, engine, persist, coding=None):
    return dask.open_collection(data, target, features, weight, persist, coding)


def _open_sparse(data, target, features, weight, engine, persist, coding=None):
    if isinstance(target, str) or isinstance(weight, str):
        raise ValueError("a sparse matrix has no named columns: pass the target and weights as values")
    return sparse.open_sparse(data, target, weight)


#: ``(kind, recognises(data), opens(data, target, features, weight, engine, persist, coding))``, in order.
KINDS = (
    ("Dataset", lambda data: isinstance(data, Dataset), lambda data, *_: data),
    ("sparse matrix", is_sparse, _open_sparse),
    ("Dask collection", dask.is_dask_collection, _open_dask),
    ("path", _is_path, _open_path),
    ("pair of .npy paths", _is_path_pair, lambda data, target, *rest: _open_path(data[0], data[1], *rest)),
    ("Arrow table or data frame", tables.is_table, _open_table),
    ("array", lambda data: hasattr(data, "__array__") or isinstance(data, (list, tuple)), _open_array),
)


def open_dataset(source, target=None, features=None, weight=None, engine=None, persist=True,
                 max_categories=MAX_CATEGORIES, coding=None):
    """Open data for fitting or prediction, without loading it whole.

    Parameters
    ----------
    source : path, table, DataFrame, array or pair of ``.npy`` paths
        - a Parquet file, or a directory of Parquet files (streamed row group
          by row group through ``pyarrow.dataset``);
        - an Arrow IPC / Feather v2 file (memory-mapped, zero-copy);
        - a CSV file (read with pyarrow's CSV reader);
        - a ``pyarrow.Table`` or ``RecordBatch``, a pandas or polars DataFrame;
        - a ``.npy`` file of X (memory-mapped) with ``target`` a ``.npy``
          file or array of y, or a pair ``(X.npy, y.npy)``; or an array X;
        - a Dask array or DataFrame;
        - a scipy.sparse matrix or array (full batch; ``target`` and
          ``weight`` as values).
    target : str, path or array, optional
        The target column (for arrays: the target values or their ``.npy``
        path). Leave it out to open data for prediction only.
    features : list of str, optional
        Feature columns, in order. By default every numeric and categorical
        column but the target and the weight. One fixed-size-list column
        holds all the features as a tensor. Dictionary (pandas ``category``,
        polars ``Categorical``/``Enum``) and string columns are categorical:
        one feature per category (see the README's "Sparse and categorical
        data").
    weight : str, optional
        A column of sample weights.
    engine : None or "dask"
        "dask" reads a Parquet file or directory with Dask, on the workers of
        the current Dask client. Dask DataFrames and arrays are always read
        by Dask.
    persist : bool
        Dask data only: keep the partitions in the workers' memory for the
        whole fit (the default). False reads them from their source again
        every epoch, for data larger than the cluster's memory.
    max_categories : int
        A categorical column with more distinct values is hashed into
        ``2**18`` signed buckets instead of one feature per value.
    coding : Coding, optional
        Fixed category mappings (a fitted model's, for prediction); overrides
        ``max_categories``.

    Returns
    -------
    Dataset
    """
    if engine not in (None, "dask"):
        raise ValueError(f"engine must be None or 'dask', got {engine!r}")
    if coding is None:
        coding = Coding(max_categories=check_integer(max_categories, "max_categories", 1))
    for _, recognises, opens in KINDS:
        if recognises(source):
            dataset = opens(source, target, features, weight, engine, persist, coding)
            if dataset is not source:
                if dataset.origin is None:
                    dataset.origin = source
                dataset.coding = coding
            return dataset
    raise TypeError(
        "open_dataset takes a path, a pyarrow Table or RecordBatch, a pandas or polars "
        f"DataFrame, a numpy or Dask array, or a Dask DataFrame; got {type(source).__name__}"
    )


def training_data(X, y=None, sample_weight=None, coding=None):
    """The :class:`Dataset` of ``fit(X, y, sample_weight)``, with a raw target.

    ``X`` may be a Dataset (which brings its own target, weights and coding)
    or anything :func:`open_dataset` opens, with the target values ``y``,
    its categorical columns coded by ``coding``.
    """
    if isinstance(X, Dataset):
        if y is not None:
            raise ValueError("a Dataset carries its own target; pass y only with an array or table X")
        if sample_weight is not None:
            raise ValueError("a Dataset carries its own weights; open it with open_dataset(..., weight=column)")
        if X.target is None:
            raise ValueError(f"{X.description} has no target; open it with open_dataset(..., target=column)")
        return X
    if y is None:
        raise ValueError(
            "fit requires y to be passed, but the target y is None: call fit(X, y), or fit(dataset) "
            "with a Dataset from open_dataset"
        )
    if _is_path(X) or _is_path_pair(X):
        raise TypeError("fit takes arrays, tables or a Dataset; open files with fastgd.open_dataset")
    return open_dataset(X, target=_values(y), weight=_values(sample_weight), coding=coding)


def prediction_data(X, feature_names=None, coding=None):
    """A target-free :class:`Dataset` of ``X``, its features in the fitted order
    and its categorical columns coded by ``coding`` (the fitted mapping).

    Tables and files are opened with the fitted features only: other columns
    are neither read nor checked (a null in a column the model does not use
    is no error).
    """
    if dask.is_dask_collection(X):
        return dask.open_for_prediction(X, feature_names, coding)
    if feature_names is not None and (_is_path(X) or tables.is_table(X)):
        try:
            return open_dataset(X, features=list(feature_names), coding=coding)
        except MissingColumnsError as error:
            raise _lacking(X, error.missing, error.available, feature_names) from None
    dataset = open_dataset(X, coding=coding)
    if feature_names is None or dataset.feature_names is None:
        return dataset
    have = list(dataset.feature_names)
    recode = coding is not None and coding.categories and dataset.coding != coding
    if have == list(feature_names) and not recode:
        return dataset
    available = dataset.columns or have
    missing = [n for n in feature_names if n not in available]
    if missing:
        raise _lacking(X, missing, have, feature_names, dataset)
    return dataset.select(feature_names, coding)


def _lacking(X, missing, have, feature_names, dataset=None):
    extra = [n for n in have if n not in feature_names]
    name = dataset.description if dataset is not None and isinstance(X, Dataset) else _name_of(X)
    return ValueError(
        f"{name} lacks feature columns the model was fitted with: {', '.join(map(repr, missing))}"
        + (f"; it has columns the model does not know: {', '.join(map(repr, extra))}" if extra else "")
    )


def _name_of(X):
    """How error messages name the data a model predicts: X, or the file or table it came from."""
    return f"'{X}'" if _is_path(X) else "X"


def target_name(dataset):
    """How error messages name a dataset's target."""
    if dataset.target in (None, "y", TARGET_COLUMN):
        return "y"
    return f"target column {dataset.target!r}"


def _values(values):
    """Values given as a plain sequence, made an array (numbers, arrays and Dask collections stay)."""
    if values is None or isinstance(values, numbers.Number) or hasattr(values, "__array__"):
        return values
    if dask.is_dask_collection(values):
        return values
    return np.asarray(values)
