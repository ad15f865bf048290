"""Every data source feeds the same kernels and gives the same fits."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastgd
from fastgd import passes
from fastgd._config import block_rows

from .naive import objective

N_ROWS, N_FEATURES = 150_000, 6
BLOCK = block_rows(N_FEATURES)  # 4096 rows: the files below are written in blocks of this size
NAMES = [f"x{j}" for j in range(N_FEATURES)]
SOURCES = ["numpy", "memmap", "npy_pair", "ipc", "parquet", "parquet_dir", "pandas", "polars"]
RANDOM_ACCESS = {"numpy", "memmap", "npy_pair"}


def write_ipc(table, path, chunk):
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=chunk)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(21)
    X = rng.standard_normal((N_ROWS, N_FEATURES))
    y = X @ rng.standard_normal(N_FEATURES) + 0.5 + rng.standard_normal(N_ROWS)
    table = pa.table({**{n: X[:, j] for j, n in enumerate(NAMES)}, "y": y})
    root = tmp_path_factory.mktemp("sources")
    np.save(root / "X.npy", X)
    np.save(root / "y.npy", y)
    write_ipc(table, root / "data.arrow", BLOCK)
    pq.write_table(table, root / "data.parquet", row_group_size=BLOCK)
    (root / "parts").mkdir()
    for i, start in enumerate(range(0, N_ROWS, BLOCK)):
        part = table.slice(start, BLOCK)
        pq.write_table(part, root / "parts" / f"part-{i:03d}.parquet", row_group_size=BLOCK)
    return X, y, table, root


def fit_on(source, data, estimator):
    X, y, table, root = data
    if source == "numpy":
        return estimator.fit(X, y)
    if source == "memmap":
        return estimator.fit(np.load(root / "X.npy", mmap_mode="r"), np.load(root / "y.npy", mmap_mode="r"))
    opened = {
        "npy_pair": lambda: fastgd.open_dataset((root / "X.npy", root / "y.npy")),
        "ipc": lambda: fastgd.open_dataset(root / "data.arrow", target="y"),
        "parquet": lambda: fastgd.open_dataset(root / "data.parquet", target="y"),
        "parquet_dir": lambda: fastgd.open_dataset(root / "parts", target="y"),
        "pandas": lambda: fastgd.open_dataset(table.to_pandas(), target="y"),
        "polars": lambda: fastgd.open_dataset(pl.from_arrow(table), target="y"),
    }[source]()
    return estimator.fit(opened)


@pytest.fixture(scope="module")
def references(data):
    X, y, _, _ = data
    return {
        "full": fastgd.GDRegressor().fit(X, y),
        "block": fastgd.GDRegressor(**MINIBATCH, shuffle="block").fit(X, y),
        "exact": fastgd.GDRegressor(**MINIBATCH, shuffle="exact").fit(X, y),
    }


MINIBATCH = dict(batch_size=256, random_state=3, max_iter=3, tol=None)


@pytest.mark.parametrize("source", SOURCES)
def test_full_batch_gives_the_same_coefficients_on_every_source(data, references, source):
    model = fit_on(source, data, fastgd.GDRegressor())
    reference = references["full"]
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-12)
    assert abs(model.intercept_ - reference.intercept_) <= 1e-12
    assert model.converged_


@pytest.mark.parametrize("source", SOURCES)
def test_block_shuffle_is_bit_identical_on_every_source(data, references, source):
    model = fit_on(source, data, fastgd.GDRegressor(**MINIBATCH, shuffle="block"))
    assert np.array_equal(model.coef_, references["block"].coef_)
    assert model.intercept_ == references["block"].intercept_


@pytest.mark.parametrize("source", SOURCES)
def test_exact_shuffle_is_bit_identical_where_rows_can_be_read_at_random(data, references, source):
    estimator = fastgd.GDRegressor(**MINIBATCH, shuffle="exact")
    if source not in RANDOM_ACCESS:
        with pytest.raises(ValueError, match="shuffle='exact' needs random access"):
            fit_on(source, data, estimator)
        return
    model = fit_on(source, data, estimator)
    assert np.array_equal(model.coef_, references["exact"].coef_)


def test_shuffle_true_picks_exact_for_arrays_and_block_for_streams(data, references):
    X, y, _, root = data
    model = fastgd.GDRegressor(**MINIBATCH).fit(X, y)
    assert np.array_equal(model.coef_, references["exact"].coef_)
    dataset = fastgd.open_dataset(root / "parts", target="y")
    assert np.array_equal(fastgd.GDRegressor(**MINIBATCH).fit(dataset).coef_, references["block"].coef_)


def test_block_shuffle_reorders_blocks_and_rows_reproducibly(data):
    X, y, _, _ = data
    params = dict(batch_size=64, max_iter=1, tol=None, optimizer="sgd", learning_rate=0.01)
    one = fastgd.GDRegressor(shuffle="block", random_state=1, **params).fit(X, y).coef_
    again = fastgd.GDRegressor(shuffle="block", random_state=1, **params).fit(X, y).coef_
    other = fastgd.GDRegressor(shuffle="block", random_state=2, **params).fit(X, y).coef_
    unshuffled = fastgd.GDRegressor(shuffle=False, **params).fit(X, y).coef_
    small = fastgd.GDRegressor(shuffle="block", shuffle_buffer=1000, random_state=1, **params)
    assert np.array_equal(one, again)
    assert not np.array_equal(one, other) and not np.array_equal(one, unshuffled)
    assert not np.array_equal(one, small.fit(X, y).coef_)


@pytest.mark.parametrize("n_features, dtype", [(3, np.float64), (100, np.float64), (37, np.float32), (5000, np.float64)])
def test_the_default_block_shuffle_buffer_holds_what_the_docs_say(n_features, dtype):
    # The docstring of shuffle_buffer: "auto" is 8-16 MiB of rows, at least one block.
    X = np.zeros((8, n_features), dtype)
    source = fastgd.open_dataset(X, target=np.zeros(8)).source
    row_bytes = n_features * np.dtype(dtype).itemsize
    plan = source.epochs("block", None, 32)
    assert 8 << 20 <= plan.capacity * row_bytes <= 16 << 20
    assert plan.capacity >= block_rows(n_features, np.dtype(dtype).itemsize)
    assert source.epochs("block", 1000, 32).capacity == max(1000, source.block_sizes.max())


def test_multi_file_parquet_larger_than_the_buffer_reaches_the_in_memory_optimum(data):
    X, y, _, root = data
    dataset = fastgd.open_dataset(root / "parts", target="y")
    assert dataset.n_rows > 2 * BLOCK  # more rows than the one-block buffer holds
    optimum = objective(X, y, *(lambda m: (m.coef_, m.intercept_))(fastgd.GDRegressor().fit(X, y)))
    streamed = fastgd.GDRegressor(batch_size=256, shuffle_buffer=BLOCK, random_state=0).fit(dataset)
    gap = objective(X, y, streamed.coef_, streamed.intercept_) - optimum
    assert 0 <= gap <= 1e-4 * optimum


def test_classifier_reads_string_labels_from_a_column(tmp_path):
    rng = np.random.default_rng(22)
    X = rng.standard_normal((5000, 3))
    labels = np.where(X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(5000) > 0, "spam", "ham")
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": labels})
    pq.write_table(table, tmp_path / "mail.parquet", row_group_size=1000)
    dataset = fastgd.open_dataset(tmp_path / "mail.parquet", target="label")
    model = fastgd.GDClassifier().fit(dataset)
    reference = fastgd.GDClassifier().fit(X, labels)
    assert list(model.classes_) == ["ham", "spam"]
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-10)
    np.testing.assert_array_equal(model.predict(dataset), reference.predict(X))
    assert model.score(dataset) == reference.score(X, labels) > 0.9
    assert list(model.feature_names_in_) == ["a", "b", "c"]


def test_dataframes_fit_with_their_column_names(data):
    X, y, table, _ = data
    frame = table.drop(["y"]).to_pandas()
    model = fastgd.GDRegressor().fit(frame, y)
    assert list(model.feature_names_in_) == NAMES
    np.testing.assert_allclose(model.coef_, fastgd.GDRegressor().fit(X, y).coef_, atol=1e-12)
    shuffled = frame[NAMES[::-1] + []]
    np.testing.assert_allclose(model.predict(shuffled), model.predict(X), rtol=1e-12)
    with pytest.raises(ValueError, match="lacks feature columns the model was fitted with: 'x2'"):
        model.predict(frame.drop(columns=["x2"]))
    polars_frame = pl.from_pandas(frame)
    np.testing.assert_array_equal(fastgd.GDRegressor().fit(polars_frame, y).coef_, model.coef_)
    with pytest.raises(ValueError, match="X has 5 features, but GDRegressor is expecting 6 features as input"):
        fastgd.GDRegressor().fit(X, y).predict(frame.drop(columns=["x2"]))


def test_predict_on_a_dataset_matches_arrays(data):
    X, y, _, root = data
    model = fastgd.GDRegressor(optimizer="lbfgs").fit(X, y)
    for path in ("data.arrow", "data.parquet", "parts"):
        dataset = fastgd.open_dataset(root / path, features=NAMES)
        np.testing.assert_allclose(model.predict(dataset), model.predict(X), rtol=1e-12)
    named = fastgd.GDRegressor(optimizer="lbfgs").fit(fastgd.open_dataset(root / "parts", target="y"))
    everything = fastgd.open_dataset(root / "data.arrow")  # y is a numeric column too
    np.testing.assert_allclose(named.predict(everything), model.predict(X), rtol=1e-11)
    assert model.score(fastgd.open_dataset(root / "parts", target="y")) == pytest.approx(model.score(X, y), rel=1e-12)


@pytest.mark.parametrize("container", ["table", "ipc_one_batch", "ipc_batches"])
def test_tensor_column_of_float32_is_used_without_a_copy(tmp_path, container, monkeypatch):
    rng = np.random.default_rng(23)
    X = rng.standard_normal((20_000, 8)).astype(np.float32)
    y = X.astype(np.float64) @ np.arange(8.0) + rng.standard_normal(20_000)
    values = pa.array(X.ravel())
    table = pa.table({"features": pa.FixedSizeListArray.from_arrays(values, 8), "y": y})
    if container == "table":
        dataset = fastgd.open_dataset(table, target="y")
    else:
        write_ipc(table, tmp_path / "t.arrow", 20_000 if container == "ipc_one_batch" else 4096)
        dataset = fastgd.open_dataset(tmp_path / "t.arrow", target="y")
    assert dataset.source.dtype == np.float32 and dataset.n_features == 8
    assert dataset.feature_names[0] == "features[0]"
    seen = []
    for name in ("full_pass", "dense_gram"):
        kernel = getattr(passes, name)
        monkeypatch.setattr(passes, name, lambda X, *a, kernel=kernel: seen.append(X) or kernel(X, *a))
    model = fastgd.GDRegressor().fit(dataset)
    reference = fastgd.GDRegressor().fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-10)
    assert all(block.dtype == np.float32 for block in seen)
    if container != "ipc_batches":
        buffer = values.buffers()[1] if container == "table" else None
        assert dataset.source.random_access
        if buffer is not None:
            assert {block.ctypes.data for block in seen} == {buffer.address}
        exact = fastgd.GDRegressor(**MINIBATCH, shuffle="exact")
        assert np.array_equal(exact.fit(dataset).coef_, exact.fit(X, y).coef_)
    else:
        # Record batches of 4096 rows are the blocks, as are the row groups of
        # the same data in wide float32 columns: the block shuffle matches.
        wide = pa.table({**{f"f{j}": X[:, j] for j in range(8)}, "y": y})
        pq.write_table(wide, tmp_path / "wide.parquet", row_group_size=4096)
        block = fastgd.GDRegressor(**MINIBATCH, shuffle="block")
        expected = block.fit(fastgd.open_dataset(tmp_path / "wide.parquet", target="y")).coef_
        assert np.array_equal(block.fit(dataset).coef_, expected)


def test_integer_and_float32_columns(tmp_path):
    rng = np.random.default_rng(24)
    ints = rng.integers(-5, 5, (4000, 2))
    floats = rng.standard_normal((4000, 2)).astype(np.float32)
    y = ints @ [1.0, 2.0] + floats.astype(np.float64) @ [0.5, -1.0] + rng.standard_normal(4000)
    table = pa.table({"i0": ints[:, 0], "i1": ints[:, 1].astype(np.int16), "f0": floats[:, 0], "f1": floats[:, 1], "y": y})
    mixed = fastgd.open_dataset(table, target="y")
    assert mixed.source.dtype == np.float64
    X = np.column_stack([ints, floats]).astype(np.float64)
    np.testing.assert_allclose(fastgd.GDRegressor().fit(mixed).coef_, fastgd.GDRegressor().fit(X, y).coef_, rtol=1e-10)
    single = fastgd.open_dataset(table, target="y", features=["f0", "f1"])
    assert single.source.dtype == np.float32 and single.feature_names == ["f0", "f1"]
    reversed_ = fastgd.open_dataset(table, target="y", features=["f1", "i0"])
    assert reversed_.feature_names == ["f1", "i0"]


def test_csv_files_are_read_through_pyarrow(tmp_path, data):
    X, y, table, _ = data
    head = table.slice(0, 2000)
    import pyarrow.csv

    pyarrow.csv.write_csv(head, tmp_path / "d.csv")
    model = fastgd.GDRegressor().fit(fastgd.open_dataset(tmp_path / "d.csv", target="y"))
    np.testing.assert_allclose(model.coef_, fastgd.GDRegressor().fit(X[:2000], y[:2000]).coef_, rtol=1e-9)


def test_weight_column_equals_sample_weight(data):
    X, y, table, _ = data
    w = np.random.default_rng(25).uniform(0.1, 3.0, N_ROWS)
    dataset = fastgd.open_dataset(table.append_column("w", pa.array(w)), target="y", weight="w")
    assert dataset.feature_names == NAMES  # the weight is no feature
    np.testing.assert_allclose(
        fastgd.GDRegressor().fit(dataset).coef_,
        fastgd.GDRegressor().fit(X, y, sample_weight=w).coef_,
        atol=1e-12,
    )


def test_files_are_read_only_and_never_written(data):
    _, _, _, root = data
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    for source in ("npy_pair", "ipc", "parquet", "parquet_dir"):
        model = fit_on(source, data, fastgd.GDRegressor(batch_size=512, max_iter=2, tol=None))
        model.predict(fastgd.open_dataset(root / "data.arrow", features=NAMES))
    assert sorted(p for p in root.rglob("*") if p.is_file()) == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_compressed_ipc_is_read_batch_by_batch(tmp_path, data):
    import pyarrow.feather as feather

    X, y, table, _ = data
    feather.write_feather(table, tmp_path / "c.feather", compression="lz4", chunksize=BLOCK)
    dataset = fastgd.open_dataset(tmp_path / "c.feather", target="y")
    assert not dataset.source._reader.in_memory  # decompressed anew on every read
    reference = fastgd.GDRegressor().fit(X, y)
    np.testing.assert_allclose(fastgd.GDRegressor().fit(dataset).coef_, reference.coef_, atol=1e-12)


def test_small_parquet_data_is_decoded_once_per_fit(tmp_path, monkeypatch):
    from fastgd.data import arrow

    rng = np.random.default_rng(96)
    X = rng.standard_normal((400, 300))  # wide and small: 0.96 MB as float64
    table = pa.table({**{f"c{j}": X[:, j] for j in range(300)}, "y": X[:, :5].sum(axis=1)})
    pq.write_table(table, tmp_path / "wide.parquet", row_group_size=100)
    reads = []
    read = arrow.ParquetReader.read
    monkeypatch.setattr(arrow.ParquetReader, "read", lambda self, k, columns: reads.append(k) or read(self, k, columns))
    model = fastgd.GDRegressor(penalty="l1", alpha=0.01, max_iter=30, tol=None).fit(
        fastgd.open_dataset(tmp_path / "wide.parquet", target="y"))
    assert model.n_iter_ == 30
    passes = len(reads) / 4  # four row groups
    assert passes <= 3, reads  # the statistics, the step size, the cached blocks: not one per epoch
    reference = fastgd.GDRegressor(penalty="l1", alpha=0.01, max_iter=30, tol=None).fit(X, table.column("y").to_numpy())
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-12)


def test_row_groups_are_read_once_a_pass_one_ahead_and_not_past_the_first_piece(tmp_path, monkeypatch):
    from fastgd.data import arrow

    rng = np.random.default_rng(97)
    X = rng.standard_normal((60_000, 100))
    table = pa.table({**{f"c{j}": X[:, j] for j in range(100)}, "y": X @ np.arange(100.0)})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=12_000)  # 5 blocks of several pieces
    dataset = fastgd.open_dataset(tmp_path / "t.parquet", target="y")
    source = dataset.source
    assert source.piece_rows < 12_000
    reads = []
    read = arrow.ParquetReader.read
    monkeypatch.setattr(arrow.ParquetReader, "read", lambda self, k, columns: reads.append(k) or read(self, k, columns))
    source.first_row()
    assert reads == [0]  # a pass that stops at the first piece decodes one block
    del reads[:]
    rows = np.concatenate([block.X.copy() for block in source.blocks()])  # one buffer, reused
    assert sorted(reads) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(rows, X)  # the columns transposed into rows, in order
    model = fastgd.GDRegressor(optimizer="exact").fit(dataset)
    np.testing.assert_allclose(model.coef_, np.arange(100.0), rtol=0, atol=1e-9)
