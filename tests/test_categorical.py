"""Categorical columns: the same fits as an explicit one-hot matrix, from every
table source, with the mapping carried by value into predictions and model files."""

import json
import tracemalloc
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.preprocessing import OneHotEncoder

import fastgd
from fastgd.exceptions import DataWarning

from .naive import objective

sp = pytest.importorskip("scipy.sparse")

CARRIERS = np.array(["AA", "B6", "DL", "EV", "UA", "WN", "9E"])
AIRPORTS = np.array(["JFK", "LGA", "EWR"])


def flights_like(n, seed):
    """A table of a numeric column, two string columns and one dictionary
    column, and its target: delays that depend on each."""
    rng = np.random.default_rng(seed)
    carrier = rng.choice(CARRIERS, n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.07, 0.03])
    origin = rng.choice(AIRPORTS, n)
    hour = rng.integers(5, 23, n)
    distance = rng.uniform(100, 2500, n)
    effect = dict(zip(CARRIERS, [3.0, -2.0, 0.5, 6.0, -1.0, 2.0, 9.0]))
    y = (
        0.004 * distance
        + np.vectorize(effect.get)(carrier)
        + np.where(origin == "EWR", 4.0, 0.0)
        + 0.8 * (hour - 12)
        + rng.normal(0, 3, n)
    )
    table = pa.table({
        "distance": distance,
        "carrier": carrier,
        "origin": pa.array(origin).dictionary_encode(),
        "hour": pa.array(hour.astype(str)),
    })
    return table, y


def one_hot(table, categorical):
    """The explicit design: numeric columns first, then each categorical
    column's indicators in sorted order (fastgd's documented layout)."""
    numeric = [n for n in table.column_names if n not in categorical]
    values = [np.asarray(table.column(n).to_numpy(), float)[:, None] for n in numeric]
    raw = np.column_stack([np.asarray(table.column(n).cast(pa.string()).to_pylist(), dtype=object) for n in categorical])
    encoder = OneHotEncoder(dtype=np.float64).fit(raw)
    return sp.hstack([sp.csr_matrix(np.hstack(values))] + [encoder.transform(raw)]).tocsr(), encoder


@pytest.fixture(scope="module")
def flights():
    """The table, its target, and its one-hot design as a dense array and a CSR matrix."""
    table, y = flights_like(6000, seed=3)
    csr, encoder = one_hot(table, ["carrier", "origin", "hour"])
    return table, y, csr.toarray(), encoder, csr


def _close(a, b, tol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("params", [
    dict(penalty="l2", alpha=1e-3),
    dict(penalty="l1", alpha=1e-2),
    dict(penalty="elasticnet", alpha=1e-2, l1_ratio=0.5),
    dict(penalty="l2", alpha=1e-3, standardize=False, optimizer="accelerated", max_iter=3000),
])
def test_full_batch_fit_equals_the_one_hot_fit(flights, params):
    """The iterates of the one-hot CSR matrix (a fixed number of epochs), and
    the optimum of the dense one-hot matrix. (Coefficients along a column's
    categories and the intercept are weakly determined: two float64 paths
    that differ in rounding drift apart there, to about 1e-8.)"""
    table, y, X, _, csr = flights
    path = dict(params, max_iter=25, tol=None)
    coded = fastgd.GDRegressor(**path).fit(table, y)
    explicit = fastgd.GDRegressor(**path).fit(csr, y)
    assert coded.coef_.shape == (X.shape[1],)
    _close(coded.coef_, explicit.coef_)
    _close(coded.intercept_, explicit.intercept_)
    _close(coded.loss_history_, explicit.loss_history_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=1e-12 may stall a little above: float64 sums
        coded = fastgd.GDRegressor(tol=1e-12, **params).fit(table, y)
        explicit = fastgd.GDRegressor(tol=1e-12, **params).fit(X, y)
    l2 = params["alpha"] * (1 - params.get("l1_ratio", 1.0 if params["penalty"] == "l1" else 0.0))
    l1 = params["alpha"] - l2
    f = objective(X, y, coded.coef_, coded.intercept_, l2=l2, l1=l1)
    assert abs(f - objective(X, y, explicit.coef_, explicit.intercept_, l2=l2, l1=l1)) <= 1e-12 * f


@pytest.mark.parametrize("optimizer,batch_size", [
    ("sgd", 1), ("asgd", 16), ("sgd", 64), ("momentum", 32), ("adam", 32), ("adagrad", 8),
])
@pytest.mark.parametrize("standardize", [True, False])
def test_mini_batches_follow_the_one_hot_path(flights, optimizer, batch_size, standardize):
    """Categorical columns of a few categories are centred in mini-batch
    descent like dense columns: standardized, the path is the dense one-hot
    path, step for step; in data units, the one-hot CSR matrix's."""
    table, y, X, _, csr = flights
    rate = 0.01 if standardize and optimizer != "asgd" else "auto"
    params = dict(penalty="l2", alpha=1e-3, optimizer=optimizer, batch_size=batch_size, standardize=standardize,
                  max_iter=3, tol=None, random_state=5, learning_rate=rate)
    coded = fastgd.GDRegressor(**params).fit(table, y)
    explicit = fastgd.GDRegressor(**params).fit(X if standardize else csr, y)
    # In data units the automatic rate is small (distances of thousands of miles): a short way.
    assert np.abs(explicit.coef_).max() > (0.1 if standardize else 1e-3)
    _close(coded.coef_, explicit.coef_)
    _close(coded.intercept_, explicit.intercept_)
    _close(coded.loss_history_, explicit.loss_history_)


def test_default_mini_batch_reaches_the_optimum(flights):
    table, y, X, _, _ = flights
    best = fastgd.GDRegressor(penalty="l2", alpha=1e-3, tol=1e-12).fit(X, y)
    f_best = objective(X, y, best.coef_, best.intercept_, l2=1e-3)
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=64, random_state=0).fit(table, y)
    assert model.converged_
    f = objective(X, y, model.coef_, model.intercept_, l2=1e-3)
    assert (f - f_best) / f_best < 1e-3


def test_logistic_and_softmax_equal_the_one_hot_fits(flights):
    table, y, _, _, X = flights
    label = (y > np.median(y)).astype(int)
    classes = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    # 15 epochs: later ones wander at the float64 noise floor of the optimum,
    # where two paths that differ in rounding part ways.
    for target in (label, classes):
        coded = fastgd.GDClassifier(penalty="l2", alpha=1e-3, max_iter=15, tol=None).fit(table, target)
        explicit = fastgd.GDClassifier(penalty="l2", alpha=1e-3, max_iter=15, tol=None).fit(X, target)
        assert np.abs(coded.coef_).max() > 0.5
        _close(coded.coef_, explicit.coef_)
        _close(coded.predict_proba(table), explicit.predict_proba(X))


def test_layout_names_and_attributes(flights):
    table, y, X, encoder, _ = flights
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(table, y)
    assert list(model.feature_names_in_) == ["distance", "carrier", "origin", "hour"]
    assert model.n_features_in_ == 4
    names = list(model.get_feature_names_out())
    assert names[0] == "distance"
    assert names[1:] == [f"{c}={v}" for c, values in zip(["carrier", "origin", "hour"], encoder.categories_) for v in values]
    assert list(model.categories_) == ["carrier", "origin", "hour"]
    assert model.categories_["origin"].values == ("EWR", "JFK", "LGA")
    assert model.coef_.shape == (len(names),)
    assert model.feature_mean_.shape == (len(names),)


def test_prediction_maps_by_value_whatever_the_dictionary_order(flights):
    table, y, X, _, _ = flights
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(table, y)
    expected = model.predict(table)
    _close(expected, X @ model.coef_ + model.intercept_, 1e-12)
    rows = table.slice(0, 300)
    # Another dictionary order, dictionary columns where strings were, and
    # the columns in another order: the same predictions.
    reordered = pa.table({
        "hour": pa.array(rows.column("hour").to_pylist()).dictionary_encode(),
        "origin": pa.DictionaryArray.from_arrays(
            pa.array([["LGA", "JFK", "EWR"].index(v) for v in rows.column("origin").to_pylist()], pa.int8()),
            pa.array(["LGA", "JFK", "EWR"])),
        "carrier": pa.array(rows.column("carrier").to_pylist(), pa.large_string()),
        "distance": rows.column("distance"),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(model.predict(reordered), expected[:300])


def test_unseen_categories_add_nothing_or_raise(flights):
    table, y, _, _, _ = flights
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(table, y)
    rows = table.slice(0, 4).to_pydict()
    rows["carrier"] = ["ZZ", "AA", "QQ", "ZZ"]
    new = pa.table(rows)
    known = pa.table({**rows, "carrier": ["AA"] * 4})
    names = list(model.get_feature_names_out())
    with pytest.warns(DataWarning, match=r"3 in 'carrier'.*add nothing"):
        got = model.predict(new)
    base = model.predict(known) - model.coef_[names.index("carrier=AA")]
    _close(got[[0, 2, 3]], base[[0, 2, 3]], 1e-12)
    _close(got[1], base[1] + model.coef_[names.index("carrier=AA")], 1e-12)
    model.set_params(handle_unknown="error")
    with pytest.raises(ValueError, match=r"column 'carrier' has 3 value\(s\) the model was not fitted with.*'ZZ'"):
        model.predict(new)
    with pytest.raises(ValueError, match="handle_unknown must be one of"):
        model.set_params(handle_unknown="zero").predict(new)


def test_nulls_are_a_category_of_their_own():
    rng = np.random.default_rng(4)
    n = 3000
    kind = rng.choice(["a", "b", None], n)
    x = rng.normal(size=n)
    y = x + np.select([kind == "a", kind == "b"], [1.0, -1.0], 3.0) + rng.normal(0, 0.1, n)
    table = pa.table({"x": x, "kind": pa.array(kind.tolist(), pa.string())})
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-4, max_iter=20, tol=None).fit(table, y)
    assert list(model.get_feature_names_out()) == ["x", "kind=a", "kind=b", "kind=<null>"]
    indicators = np.column_stack([kind == "a", kind == "b", kind == None]).astype(float)  # noqa: E711
    explicit = fastgd.GDRegressor(penalty="l2", alpha=1e-4, max_iter=20, tol=None).fit(
        sp.csr_matrix(np.column_stack([x, indicators])), y)
    _close(model.coef_, explicit.coef_)
    assert abs(model.coef_[3] - model.coef_[1] - 2.0) < 0.05


def test_every_table_source_gives_the_same_fit(flights, tmp_path):
    pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    table, y, _, _, _ = flights
    data = table.append_column("y", pa.array(y))
    params = dict(penalty="l2", alpha=1e-3, max_iter=30, tol=None)
    reference = fastgd.GDRegressor(**params).fit(table, y)
    # Parquet row groups and files whose dictionaries differ: one global mapping.
    directory = tmp_path / "parts"
    directory.mkdir()
    half = data.num_rows // 2
    for k, part in enumerate([data.slice(0, half), data.slice(half)]):
        part = part.set_column(2, "origin", part.column("origin").cast(pa.string()).dictionary_encode())
        pq.write_table(part.combine_chunks() if k else part, directory / f"part{k}.parquet", row_group_size=1000)
    pandas_frame = table.to_pandas()
    pandas_frame["carrier"] = pandas_frame["carrier"].astype("category")
    polars_frame = pl.from_arrow(table).with_columns(
        pl.col("carrier").cast(pl.Categorical), pl.col("hour").cast(pl.Enum(sorted(set(table.column("hour").to_pylist()))))
    )
    feather = tmp_path / "data.arrow"
    with pa.ipc.new_file(feather, data.schema) as writer:
        for batch in data.to_batches(max_chunksize=1000):
            writer.write_batch(batch)
    csv = tmp_path / "data.csv"
    # "hour" holds digits, which a CSV reader takes for numbers: name the string columns by type.
    pacsv.write_csv(data.set_column(2, "origin", data.column("origin").cast(pa.string())), csv)
    sources = {
        "parquet directory": fastgd.open_dataset(directory, target="y"),
        "arrow ipc": fastgd.open_dataset(feather, target="y"),
    }
    for name, dataset in sources.items():
        model = fastgd.GDRegressor(**params).fit(dataset)
        assert list(model.get_feature_names_out()) == list(reference.get_feature_names_out()), name
        _close(model.coef_, reference.coef_, 1e-9)
    # A CSV reader takes "hour" (digits) for numbers: compare the string columns only.
    features = ["distance", "carrier", "origin"]
    from_csv = fastgd.GDRegressor(**params).fit(fastgd.open_dataset(csv, target="y", features=features))
    _close(from_csv.coef_, fastgd.GDRegressor(**params).fit(table.select(features), y).coef_, 1e-9)
    for name, frame in {"pandas": pandas_frame, "polars": polars_frame}.items():
        model = fastgd.GDRegressor(**params).fit(frame, y)
        assert list(model.get_feature_names_out()) == list(reference.get_feature_names_out()), name
        _close(model.coef_, reference.coef_, 1e-9)


def test_streamed_parquet_mini_batches_and_block_shuffle(flights, tmp_path):
    table, y, X, _, _ = flights
    path = tmp_path / "d.parquet"
    pq.write_table(table.append_column("y", pa.array(y)), path, row_group_size=500)
    dataset = fastgd.open_dataset(path, target="y")
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=32, shuffle="block", random_state=1).fit(dataset)
    assert model.converged_
    best = fastgd.GDRegressor(penalty="l2", alpha=1e-3, tol=1e-12).fit(X, y)
    f_best = objective(X, y, best.coef_, best.intercept_, l2=1e-3)
    assert objective(X, y, model.coef_, model.intercept_, l2=1e-3) - f_best < 1e-3 * f_best
    _close(model.predict(path), X @ model.coef_ + model.intercept_, 1e-12)


def test_model_files_carry_the_mapping(flights, tmp_path):
    table, y, _, _, _ = flights
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(table, y)
    path = tmp_path / "m.json"
    model.save(path)
    document = json.loads(path.read_text())
    assert document["categories"][1] == {"column": "origin", "values": ["EWR", "JFK", "LGA"], "null": False, "bits": 0}
    loaded = fastgd.load(path)
    assert list(loaded.get_feature_names_out()) == list(model.get_feature_names_out())
    shuffled = table.take(np.random.default_rng(0).permutation(table.num_rows)[:500])
    np.testing.assert_array_equal(loaded.predict(shuffled), model.predict(shuffled))
    document["categories"][1]["column"] = "nope"
    path.write_text(json.dumps(document))
    with pytest.raises(fastgd.ModelFileError, match="categories name column 'nope'"):
        fastgd.load(path)


def test_partial_fit_keeps_the_first_mapping(flights):
    table, y, _, _, _ = flights
    first = table.slice(0, 3000)
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=16, random_state=0)
    model.partial_fit(first, y[:3000])
    names = list(model.get_feature_names_out())
    rest = table.slice(3000).to_pydict()
    rest["carrier"] = ["NEW"] * 10 + rest["carrier"][10:]
    with pytest.warns(DataWarning, match=r"10 in 'carrier'.*categories of the first call are kept"):
        model.partial_fit(pa.table(rest), y[3000:])
    assert list(model.get_feature_names_out()) == names
    assert np.all(np.isfinite(model.coef_))


def test_high_cardinality_columns_are_hashed():
    from sklearn.utils import murmurhash3_32

    rng = np.random.default_rng(6)
    n = 4000
    users = np.array([f"user{k}" for k in rng.integers(0, 900, n)])
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    table = pa.table({"x": x, "user": users})
    params = dict(penalty="l2", alpha=1e-2, max_iter=8, tol=None, max_categories=100)  # short of the noise floor
    model = fastgd.GDRegressor(**params).fit(table, y)
    assert model.categories_["user"].hashed and model.coef_.shape == (1 + 2**18,)
    assert model.get_feature_names_out()[1] == "user#0"
    hashes = np.array([murmurhash3_32(u, positive=True) for u in users], np.int64)
    buckets, signs = hashes & (2**18 - 1), np.where(hashes >> 31, -1.0, 1.0)
    explicit = sp.hstack([sp.csr_matrix(x[:, None]), sp.csr_matrix((signs, (np.arange(n), buckets)), shape=(n, 2**18))]).tocsr()
    reference = fastgd.GDRegressor(**{k: v for k, v in params.items() if k != "max_categories"}).fit(explicit, y)
    _close(model.coef_, reference.coef_)
    _close(model.intercept_, reference.intercept_)


def test_categorical_columns_never_allocate_rows_times_categories():
    rng = np.random.default_rng(8)
    n, categories = 200_000, 2000
    ids = pa.array(rng.integers(0, categories, n).astype(str)).dictionary_encode()
    table = pa.table({"x": rng.normal(size=n), "id": ids})
    y = rng.normal(size=n)
    fastgd.GDRegressor(max_iter=2).fit(table.slice(0, 1000), y[:1000])  # compile first
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastgd.GDRegressor(penalty="l2", alpha=1e-3, max_iter=5).fit(table, y)
        fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=32, max_iter=2).fit(table, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    one_hot_bytes = n * categories * 8
    assert peak < one_hot_bytes / 100, peak
    assert peak < 12 * n * 8 + 100 * categories * 8  # a few row vectors and coded rows, O(categories) state


def test_cli_fits_string_columns_and_lists_categories(flights, tmp_path):
    import subprocess
    import sys

    table, y, _, _, _ = flights
    path = tmp_path / "f.parquet"
    pq.write_table(table.append_column("arr_delay", pa.array(y)), path)
    model = tmp_path / "m.json"
    run = lambda *a: subprocess.run([sys.executable, "-m", "fastgd", *map(str, a)], capture_output=True, text=True)  # noqa: E731
    done = run("fit", path, "--target", "arr_delay", "--penalty", "l2", "--alpha", "0.001", "--out", model)
    assert done.returncode == 0, done.stderr
    assert "left out" not in done.stderr
    info = run("info", model)
    assert info.returncode == 0, info.stderr
    assert "column 'carrier' (7 categories), largest: 9E " in info.stdout
    assert "features: 4: distance, carrier, origin, hour" in info.stdout
    reference = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(table, y)
    fitted = fastgd.load(model)
    _close(fitted.coef_, reference.coef_, 1e-9)


def test_dask_frames_with_categorical_columns(flights):
    dd = pytest.importorskip("dask.dataframe")
    table, y, X, _, _ = flights
    frame = table.to_pandas()
    frame["origin"] = frame["origin"].astype("category")
    frame["y"] = y
    partitioned = dd.from_pandas(frame, npartitions=3)
    params = dict(penalty="l2", alpha=1e-3, max_iter=25, tol=None)
    reference = fastgd.GDRegressor(**params).fit(table, y)
    for model in (
        fastgd.GDRegressor(**params).fit(fastgd.open_dataset(partitioned, target="y")),
        fastgd.GDRegressor(**params).fit(partitioned.drop(columns="y"), y),
    ):
        assert list(model.get_feature_names_out()) == list(reference.get_feature_names_out())
        _close(model.coef_, reference.coef_)
        _close(np.asarray(model.predict(partitioned.drop(columns="y"))), reference.predict(table))
    # Mini-batches travel from partition to partition with the coded rows.
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=32, random_state=0).fit(
        fastgd.open_dataset(partitioned, target="y"))
    best = fastgd.GDRegressor(penalty="l2", alpha=1e-3, tol=1e-12).fit(X, y)
    f_best = objective(X, y, best.coef_, best.intercept_, l2=1e-3)
    assert model.converged_
    assert objective(X, y, model.coef_, model.intercept_, l2=1e-3) - f_best < 1e-3 * f_best
    # The fitted mapping codes the rows of each partition on its worker: a category it lacks is an error there.
    unseen = frame.drop(columns="y").assign(carrier=frame["carrier"].where(frame.index != 4000, "ZZ"))
    model.set_params(handle_unknown="error")
    with pytest.raises(ValueError, match=r"partition 2: categorical column 'carrier' has 1 value\(s\) the model was not fitted with"):
        np.asarray(model.predict(dd.from_pandas(unseen, npartitions=3)))


def test_early_stopping_keeps_the_mapping(flights):
    table, y, _, _, _ = flights
    model = fastgd.GDRegressor(batch_size=64, early_stopping=True, random_state=0, max_iter=5).fit(table, y)
    assert list(model.categories_) == ["carrier", "origin", "hour"]
    assert len(model.get_feature_names_out()) == model.coef_.shape[0]
    numeric = fastgd.GDRegressor(max_iter=5).fit(table.select(["distance"]), y)
    assert not hasattr(numeric, "categories_")
    model.fit(table.select(["distance"]), y)  # a refit on other columns forgets the categories
    assert not hasattr(model, "categories_") and list(model.get_feature_names_out()) == ["distance"]


def test_a_pandas_index_written_to_parquet_is_not_a_feature(flights, tmp_path):
    pytest.importorskip("pandas")
    table, y, _, _, _ = flights
    frame = table.to_pandas().assign(y=y)
    frame = frame[frame["distance"] > 500]  # row labels no longer 0..n-1: written as a column
    frame.to_parquet(tmp_path / "f.parquet")
    assert "__index_level_0__" in pq.read_schema(tmp_path / "f.parquet").names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = fastgd.open_dataset(tmp_path / "f.parquet", target="y")
    assert dataset.feature_names == ["distance", "carrier", "origin", "hour"]


def test_streamed_coding_equals_the_kept_coded_rows(flights, tmp_path, monkeypatch):
    """Data too large to keep its coded rows is coded piece by piece, into
    bounded buffers: the same fits, full batch and block-shuffled mini-batches."""
    from fastgd.data import categorical

    table, y, _, _, _ = flights
    path = tmp_path / "d.parquet"
    pq.write_table(table.append_column("y", pa.array(y)), path, row_group_size=700)
    runs = [dict(penalty="l2", alpha=1e-3, optimizer="lbfgs", max_iter=20, tol=None),
            dict(penalty="l2", alpha=1e-3, batch_size=16, shuffle="block", max_iter=2, tol=None, random_state=3)]
    kept = [fastgd.GDRegressor(**params).fit(fastgd.open_dataset(path, target="y")) for params in runs]
    monkeypatch.setattr(categorical, "SMALL_DATA_BYTES", 0)
    monkeypatch.setattr(categorical, "CODED_CACHE_BYTES", 0)
    dataset = fastgd.open_dataset(path, target="y")
    assert not dataset.source.random_access
    for params, reference in zip(runs, kept):
        model = fastgd.GDRegressor(**params).fit(dataset)
        _close(model.coef_, reference.coef_)
        np.testing.assert_array_equal(model.predict(path), reference.predict(path))
