"""``open_dataset``: one entry point for every kind of data fastgd reads."""

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from .._config import block_rows
from .._validation import check_X, kernel_dtype
from .arrays import ArraySource
from .arrow import ArrowSource, IpcReader, ParquetReader, TableReader
from .columns import resolve_columns

_PARQUET = {".parquet", ".pq", ".parq"}
_IPC = {".arrow", ".feather", ".ipc", ".arrows"}
_CSV = {".csv", ".tsv"}


class Dataset:
    """Data opened by :func:`open_dataset`, ready for ``fit`` and ``predict``.

    Attributes
    ----------
    source : the :class:`~fastgd.data.base.Source` that serves the row blocks
    target, weight : str or None, the column names
    columns : list of str or None, every column of a table
    description : str
    """

    def __init__(self, source, description, target=None, weight=None, columns=None):
        self.source = source
        self.description = description
        self.target = target
        self.weight = weight
        #: Every column of the underlying table (None for arrays).
        self.columns = columns
        self._origin = None

    def select(self, features):
        """The same data with other feature columns (for prediction: no target)."""
        if self._origin is None or list(features) == list(self.feature_names or []):
            return self
        return open_dataset(self._origin, features=list(features))

    @property
    def n_rows(self):
        return self.source.n_rows

    @property
    def n_features(self):
        return self.source.n_features

    @property
    def feature_names(self):
        return self.source.feature_names

    def __repr__(self):
        return (
            f"<fastgd.Dataset {self.description}: {self.n_rows:,} rows x {self.n_features} "
            f"features ({self.source.dtype}), target={self.target!r}>"
        )


def open_dataset(source, target=None, features=None, weight=None, engine=None, persist=True):
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
          file or array of y, or a pair ``(X.npy, y.npy)``; or an array X.
    target : str, path or array, optional
        The target column (for arrays: the target values or their ``.npy``
        path). Leave it out to open data for prediction only.
    features : list of str, optional
        Feature columns, in order. By default every numeric column but the
        target and the weight. One fixed-size-list column holds all the
        features as a tensor.
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

    Returns
    -------
    Dataset
    """
    if isinstance(source, Dataset):
        return source
    if engine not in (None, "dask"):
        raise ValueError(f"engine must be None or 'dask', got {engine!r}")
    from .dask import from_dataframe, is_dask_collection, read_parquet

    if engine == "dask" or is_dask_collection(source):
        if isinstance(source, (str, os.PathLike)):
            if not Path(source).exists():
                raise FileNotFoundError(f"no such file or directory: '{source}'")
            dask_source = read_parquet(source, target, features, weight, persist)
            description = f"Parquet data {source} (read by Dask)"
        elif hasattr(source, "columns"):
            dask_source = from_dataframe(source, target, features, weight, persist)
            description = "Dask DataFrame"
        else:
            from .inputs import dask_arrays

            dask_source, description = dask_arrays(source, target, weight, persist=persist), "Dask array"
        return Dataset(dask_source, description, target=None if target is None else str(target), weight=weight)
    if isinstance(source, (tuple, list)) and len(source) == 2 and all(
        isinstance(s, (str, os.PathLike)) for s in source
    ):
        source, target = source
    if isinstance(source, (str, os.PathLike)):
        dataset = _open_path(Path(source), target, features, weight)
    elif isinstance(source, np.ndarray):
        dataset = _open_arrays(source, target, "array")
    else:
        table = as_arrow_table(source)
        if table is None:
            raise TypeError(
                "open_dataset takes a path, a pyarrow Table or RecordBatch, a pandas or polars "
                f"DataFrame, or a numpy array; got {type(source).__name__}"
            )
        dataset = _open_table(table, type(source).__name__, target, features, weight)
        source = table
    dataset._origin = source
    return dataset


def as_arrow_table(data):
    """A pyarrow Table for Arrow and DataFrame input, or None for anything else."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars" and hasattr(data, "to_arrow"):
        return data.to_arrow()
    return None


def _open_path(path, target, features, weight):
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: '{path}'")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in _PARQUET:
        return _open_parquet(path, target, features, weight)
    if suffix == ".npy":
        return _open_npy(path, target)
    if suffix in _CSV:
        import pyarrow.csv

        options = pyarrow.csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
        table = _reading(path, "CSV", lambda: pyarrow.csv.read_csv(path, parse_options=options))
        return _open_table(table, f"CSV file {path}", target, features, weight)
    if suffix in _IPC or _magic(path) == b"ARROW1":
        ipc = _reading(path, "Arrow IPC", lambda: IpcReader(path))
        return _open_arrow(ipc.schema, lambda piece: ipc, f"Arrow IPC file {path}", target,
                           features, weight, null_counts=ipc.null_counts)
    if _magic(path) == b"PAR1":
        return _open_parquet(path, target, features, weight)
    raise ValueError(
        f"cannot tell the format of '{path}'; use a .parquet, .arrow/.feather, .csv or .npy file"
    )


def _magic(path):
    with open(path, "rb") as f:
        head = f.read(6)
    return head if head == b"ARROW1" else head[:4]


def _reading(path, kind, read):
    try:
        return read()
    except (pa.ArrowException, OSError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot read {kind} file '{path}' (truncated or corrupt?): {error}") from error


def _open_npy(path, target):
    X = _reading(path, "npy", lambda: np.load(path, mmap_mode="r", allow_pickle=False))
    if isinstance(target, (str, os.PathLike)):
        target_path = Path(target)
        if not target_path.exists():
            raise FileNotFoundError(f"no such file or directory: '{target_path}'")
        target = _reading(target_path, "npy", lambda: np.load(target_path, mmap_mode="r", allow_pickle=False))
    return _open_arrays(X, target, f".npy file {path}")


def _open_arrays(X, y, description):
    X = check_X(X)
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but the target has shape {y.shape}; they must match")
    return Dataset(ArraySource(X, raw_y=y), description, target=None if y is None else "y")


def _open_parquet(path, target, features, weight):
    import pyarrow.dataset as pads

    dataset = _reading(path, "Parquet", lambda: pads.dataset(path, format="parquet"))
    if not dataset.files:
        raise ValueError(f"no Parquet files in '{path}'")
    row_groups, sizes, nulls = [], [], {}
    first = dataset.files[0]
    schema = dataset.schema
    for fragment in dataset.get_fragments():
        physical = _reading(fragment.path, "Parquet", lambda: fragment.physical_schema)
        for field in schema:
            there = physical.field(field.name) if field.name in physical.names else None
            if there is None or there.type != field.type:
                found = "missing" if there is None else f"of type {there.type}"
                raise ValueError(
                    f"Parquet file '{fragment.path}' does not match the dataset schema: column "
                    f"{field.name!r} is {found} there but of type {field.type} in '{first}'"
                )
        metadata = _reading(fragment.path, "Parquet", lambda: fragment.metadata)
        pieces = _reading(fragment.path, "Parquet", fragment.split_by_row_group)
        for i, piece in enumerate(pieces):
            group = metadata.row_group(i)
            row_groups.append(piece)
            sizes.append(group.num_rows)
            for j in range(group.num_columns):
                column = group.column(j)
                stats = column.statistics
                if stats is not None and stats.has_null_count:
                    name = column.path_in_schema.split(".")[0]
                    nulls[name] = nulls.get(name, 0) + stats.null_count
    reader = ParquetReader(row_groups, sizes, schema)
    kind = "Parquet dataset" if path.is_dir() else "Parquet file"
    return _open_arrow(schema, lambda piece: reader, f"{kind} {path}", target, features, weight,
                       null_counts=lambda names: {n: nulls.get(n, 0) for n in names})


def _open_table(table, description, target, features, weight):
    return _open_arrow(
        table.schema, lambda piece: TableReader(table, piece), description, target, features,
        weight, null_counts=_table_null_counts(table),
    )


def _table_null_counts(table):
    def counts(names):
        result = {}
        for name in names:
            column = table.column(name)
            result[name] = column.null_count
            if pa.types.is_fixed_size_list(column.type):
                result[name] += sum(chunk.flatten().null_count for chunk in column.chunks)
        return result

    return counts


def _open_arrow(schema, make_reader, description, target, features, weight, null_counts):
    """Resolve and check the columns, then build the source.

    ``make_reader(block_rows)`` gives the reader of the natural blocks and
    ``null_counts(names)`` the number of nulls in each named column.
    """
    names = schema.names
    chosen = features is None
    features = resolve_columns(
        names, target, weight, features, lambda n: _is_number(schema.field(n).type), description
    )
    if chosen and not features:
        tensors = [n for n in names if n not in (target, weight) and _is_tensor(schema.field(n).type)]
        features = tensors[:1]
        if not features:
            raise ValueError(f"{description} has no numeric feature columns; columns: {', '.join(names)}")
    tensor = None
    types = [schema.field(n).type for n in features]
    if len(features) == 1 and _is_tensor(types[0]):
        tensor = types[0].list_size
        dtype = kernel_dtype(_numpy_type(types[0].value_type))
    else:
        for name, type_ in zip(features, types):
            if not _is_number(type_):
                nested = " (nested types need one fixed-size-list column holding all features)" if pa.types.is_nested(type_) else ""
                raise TypeError(
                    f"feature column {name!r} has type {type_}; features must be numeric{nested}"
                )
        single = all(pa.types.is_floating(t) and t.bit_width <= 32 for t in types)
        dtype = np.float32 if single else np.float64
    if weight is not None and not _is_number(schema.field(weight).type):
        raise TypeError(f"weight column {weight!r} has type {schema.field(weight).type}; weights must be numeric")
    checked = features + [c for c in (target, weight) if c is not None]
    for name, count in null_counts(checked).items():
        if count:
            raise ValueError(f"column {name!r} has {count} null values; remove or impute them")
    n_features = tensor or len(features)
    reader = make_reader(block_rows(n_features, np.dtype(dtype).itemsize))
    if int(np.sum(reader.block_sizes)) == 0:
        raise ValueError(f"{description} has 0 rows; at least 1 row is required")
    arrow = ArrowSource(reader, features, tensor, dtype, target=target, weight=weight)
    return Dataset(arrow, description, target=target, weight=weight, columns=names)


def _is_number(type_):
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_boolean(type_)


def _is_tensor(type_):
    return pa.types.is_fixed_size_list(type_) and _is_number(type_.value_type)


def _numpy_type(type_):
    return np.dtype(type_.to_pandas_dtype()) if not pa.types.is_boolean(type_) else np.dtype(bool)
