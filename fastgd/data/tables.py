"""Arrow-readable data as a source: tables and frames, IPC/Feather, Parquet and CSV files.

Each opener resolves and checks the columns once (names, types, nulls) and
builds an :class:`~fastgd.data.arrow.ArrowSource` over a reader of the
format's natural blocks, or, when some feature columns are categorical
(dictionary or string columns), a
:class:`~fastgd.data.categorical.CodedArrowSource`.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._config import block_rows
from .._validation import kernel_dtype
from ..exceptions import DataWarning, warn_caller
from .arrow import ArrowSource, IpcReader, ParquetReader, TableReader
from .categorical import CodedArrowSource, Coding, build_categories
from .categories import is_categorical
from .columns import resolve_columns
from .dataset import Dataset
from .files import reading

def is_table(data):
    """Whether ``data`` is Arrow data or a pandas / polars DataFrame (checked without converting it)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return True
    module = type(data).__module__.split(".")[0]
    return (module == "pandas" and hasattr(data, "columns")) or (module == "polars" and hasattr(data, "to_arrow"))


def as_arrow_table(data):
    """A pyarrow Table for Arrow and DataFrame input, or None for anything else."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        return _from_pandas(data)
    if module == "polars" and hasattr(data, "to_arrow"):
        return data.to_arrow()
    return None


def _from_pandas(frame):
    """A pandas DataFrame as a Table; a column Arrow cannot convert is named, with what it mixes."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        for name in frame.columns:
            column = frame[name]
            try:
                pa.array(column, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                kinds = sorted({type(v).__name__ for v in column.dropna()})
                raise TypeError(
                    f"DataFrame column {name!r} (dtype {column.dtype}) mixes values of types "
                    f"{', '.join(kinds)}; convert it to one type, e.g. df[{name!r}].astype(float)"
                ) from None
        raise TypeError(f"cannot convert the DataFrame to Arrow: {error}") from None


def open_csv(path, target, features, weight, coding=None):
    """A CSV file (gzip or bz2 compressed too), read whole by pyarrow's CSV reader.

    The delimiter is the one of ``,``, ``;``, tab and ``|`` the header line
    holds most of (a ``.tsv`` file: tab).
    """
    import pyarrow.csv

    options = pyarrow.csv.ParseOptions(delimiter=_delimiter(path))
    # An empty field is missing, in a text column too: never a label "".
    convert = pyarrow.csv.ConvertOptions(strings_can_be_null=True)
    table = reading(path, "CSV", lambda: pyarrow.csv.read_csv(path, parse_options=options, convert_options=convert))
    if table.num_rows == 0:
        raise ValueError(f"CSV file {path} has no rows, only a header; at least 1 row is required")
    return open_table(table, f"CSV file {path}", target, features, weight, coding)


def _delimiter(path):
    if ".tsv" in path.suffixes:
        return "\t"
    with pa.input_stream(str(path), compression="detect") as stream:
        header = stream.read(1 << 16).split(b"\n", 1)[0]
    counts = {d: header.count(d.encode()) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def open_ipc(path, target, features, weight, coding=None):
    """An Arrow IPC / Feather v2 file, memory-mapped."""
    ipc = reading(path, "Arrow IPC", lambda: IpcReader(path))
    return _open_arrow(ipc.schema, lambda piece: ipc, f"Arrow IPC file {path}", target,
                       features, weight, null_counts=ipc.null_counts, coding=coding)


def open_parquet(path, target, features, weight, coding=None):
    import pyarrow.dataset as pads

    dataset = reading(path, "Parquet", lambda: pads.dataset(path, format="parquet"))
    if not dataset.files:
        raise ValueError(f"no Parquet files in '{path}'")
    row_groups, sizes, nulls = [], [], {}
    first = dataset.files[0]
    schema = dataset.schema
    for fragment in dataset.get_fragments():
        physical = reading(fragment.path, "Parquet", lambda: fragment.physical_schema)
        for field in schema:
            there = physical.field(field.name) if field.name in physical.names else None
            if there is None or there.type != field.type:
                found = "missing" if there is None else f"of type {there.type}"
                raise ValueError(
                    f"Parquet file '{fragment.path}' does not match the dataset schema: column "
                    f"{field.name!r} is {found} there but of type {field.type} in '{first}'"
                )
        metadata = reading(fragment.path, "Parquet", lambda: fragment.metadata)
        pieces = reading(fragment.path, "Parquet", fragment.split_by_row_group)
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
                       null_counts=lambda names: {n: nulls.get(n, 0) for n in names}, coding=coding)


def open_table(table, description, target, features, weight, coding=None):
    return _open_arrow(
        table.schema, lambda piece: TableReader(table, piece), description, target, features,
        weight, null_counts=_table_null_counts(table), coding=coding,
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


def _open_arrow(schema, make_reader, description, target, features, weight, null_counts, coding=None):
    """Resolve and check the columns, then build the source.

    ``make_reader(block_rows)`` gives the reader of the natural blocks and
    ``null_counts(names)`` the number of nulls in each named column;
    ``coding`` (a :class:`~fastgd.data.categorical.Coding`) says how
    categorical columns are coded. Without ``features``, every numeric and
    categorical column but the target and the weight is a feature.
    """
    coding = coding or Coding()
    fixed = coding.categories
    names = schema.names
    chosen = features is None

    def categorical(name):
        return name in fixed if fixed is not None else is_categorical(schema.field(name).type)

    index = _pandas_index_columns(schema)
    features = resolve_columns(
        names, target, weight, features,
        lambda n: n not in index and (_is_number(schema.field(n).type) or categorical(n)), description,
    )
    if chosen and not features:
        tensors = [n for n in names if n not in (target, weight) and _is_tensor(schema.field(n).type)]
        features = tensors[:1]
        if not features:
            raise ValueError(f"{description} has no numeric feature columns; columns: {', '.join(names)}")
    if chosen and target is not None:
        left_out = [n for n in names if n not in features and n not in (target, weight) and n not in index]
        _warn_left_out(schema, left_out, description)
    tensor = None
    coded = [n for n in features if categorical(n)]
    numeric = [n for n in features if n not in coded]
    types = [schema.field(n).type for n in numeric]
    if not coded and len(features) == 1 and _is_tensor(types[0]):
        tensor = types[0].list_size
        dtype = kernel_dtype(_numpy_type(types[0].value_type))
    else:
        for name, type_ in zip(numeric, types):
            if not _is_number(type_):
                nested = " (nested types need one fixed-size-list column holding all features)" if pa.types.is_nested(type_) else ""
                raise TypeError(
                    f"feature column {name!r} has type {type_}; features must be numeric{nested}"
                )
        single = bool(types) and all(pa.types.is_floating(t) and t.bit_width <= 32 for t in types)
        dtype = np.float32 if single else np.float64
    if weight is not None and not _is_number(schema.field(weight).type):
        raise TypeError(f"weight column {weight!r} has type {schema.field(weight).type}; weights must be numeric")
    n_features = tensor or len(features)
    reader = make_reader(block_rows(n_features, np.dtype(dtype).itemsize))
    if int(np.sum(reader.block_sizes)) == 0:
        raise ValueError(f"{description} has 0 rows; at least 1 row is required")
    # A null in a categorical column is a category of its own.
    checked = numeric + [c for c in (target, weight) if c is not None]
    for name, count in null_counts(checked).items():
        if count:
            raise ValueError(
                f"column {name!r} has {count} null (missing) value{'s' if count > 1 else ''}, the first "
                f"at row {_first_null(reader, name)}; remove or impute them"
            )
    counting = [n for n, t in zip(numeric, types) if pa.types.is_integer(t)] if chosen else []
    texts = [n for n in coded if not pa.types.is_dictionary(schema.field(n).type)] if fixed is None else []
    if (counting or texts) and len(reader.block_sizes):
        first = reader.read(0, counting + texts)  # one read for both checks of the first block
        _warn_row_numbers(first, counting, description)
        _warn_numbers_as_text(first, texts, description)
    if coded:
        found = [fixed[n] for n in coded] if fixed is not None else build_categories(reader, coded, coding.max_categories)
        if chosen and fixed is None:
            _warn_identifiers(found, int(np.sum(reader.block_sizes)), description)
        arrow = CodedArrowSource(reader, numeric, found, features, dtype, target, weight, coding.handle_unknown)
    else:
        arrow = ArrowSource(reader, features, tensor, dtype, target=target, weight=weight)
    return Dataset(arrow, description, target=target, weight=weight, columns=names)


def _pandas_index_columns(schema):
    """The columns that hold a pandas index (``df.to_parquet`` writes a
    filtered frame's row labels as one): row labels, never a feature unless named."""
    import json

    metadata = (schema.metadata or {}).get(b"pandas")
    if metadata is None:
        return set()
    try:
        found = json.loads(metadata).get("index_columns", [])
    except (ValueError, AttributeError):
        return set()
    return {c for c in found if isinstance(c, str)}


def _warn_left_out(schema, left_out, description):
    """Warn, naming them, about columns a fit does not use because they are neither numeric nor categorical."""
    if left_out:
        listed = ", ".join(f"{n!r} ({schema.field(n).type})" for n in left_out)
        plural, them = ("s", "them") if len(left_out) > 1 else ("", "it")
        warn_caller(
            f"{description}: {len(left_out)} column{plural} neither numeric nor categorical left out of the "
            f"features: {listed}; "
            f"convert {them} to numbers to use {them}, or name the features to silence this",
            DataWarning,
        )


#: A number as text: what a text column holds when a few bad values kept a
#: CSV reader from taking it for numbers.
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _warn_numbers_as_text(first, names, description):
    """Warn about text columns whose values (in ``first``, the first block) are
    mostly numbers but not all: probably numbers spoiled by a few bad values,
    which would become a categorical column with a category per number."""
    for name in names:
        column = first.column(name)
        numbers = pc.match_substring_regex(column, _NUMBER)
        valid = len(column) - column.null_count
        count = pc.sum(numbers).as_py() or 0
        if valid and 0.9 * valid <= count < valid:
            row = pc.index(pc.fill_null(numbers, True), False).as_py()
            warn_caller(
                f"{description}: column {name!r} holds text, but {count} of its first {valid} values are numbers "
                f"(not {column[row].as_py()!r}, row {row}): it is used as a categorical column, a category per "
                "distinct value; to use it as a number, replace the other values by numbers or leave them empty",
                DataWarning,
            )


def _warn_row_numbers(first, names, description):
    """Warn about integer columns whose values (in ``first``, the first block)
    count the rows, 0, 1, 2, ... or 1, 2, 3, ...: an index written with the data
    (R's ``rownames``, pandas' ``Unnamed: 0``), which a fit would take for a feature."""
    if first.num_rows < 3:
        return
    for name in names:
        column = first.column(name)
        if column.null_count:
            continue
        values = column.to_numpy()
        if values[0] in (0, 1) and np.array_equal(values, np.arange(values[0], values[0] + len(values))):
            warn_caller(
                f"{description}: column {name!r} counts the rows ({values[0]}, {values[0] + 1}, {values[0] + 2}, ...): "
                "it looks like a row index, and is used as a feature; name the features to leave it out",
                DataWarning,
            )


def _warn_identifiers(categories, n_rows, description):
    """Warn about categorical columns with a different value in every row:
    identifiers (R's row names of car models, say), whose indicators would
    fit each row by itself."""
    for column in categories:
        if n_rows >= 3 and not column.hashed and column.size == n_rows:
            warn_caller(
                f"{description}: categorical column {column.name!r} has a different value in each of its {n_rows} "
                "rows: it looks like an identifier, and as a feature it fits every row by itself; name the "
                "features to leave it out",
                DataWarning,
            )


def _first_null(reader, name):
    """The row of the first null in column ``name`` (read again: only on the way to an error)."""
    start = 0
    for k, size in enumerate(reader.block_sizes):
        column = reader.read(k, [name]).column(0)
        found = pc.index(pc.is_null(column), True).as_py()
        if found < 0 and pa.types.is_fixed_size_list(column.type):
            inner = pc.index(pc.is_null(pc.list_flatten(column)), True).as_py()
            found = inner // column.type.list_size if inner >= 0 else -1
        if found >= 0:
            return start + found
        start += int(size)
    return "unknown"


def _is_number(type_):
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_boolean(type_)


def _is_tensor(type_):
    return pa.types.is_fixed_size_list(type_) and _is_number(type_.value_type)


def _numpy_type(type_):
    return np.dtype(type_.to_pandas_dtype()) if not pa.types.is_boolean(type_) else np.dtype(bool)
