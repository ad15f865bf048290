"""Sparse rows on disk: svmlight / libsvm text files and memory-mapped CSR stores."""

import bz2
import gzip
import json
import os
import re
import tracemalloc
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest

import fastgd
from fastgd.data import csr_store, svmlight

sp = pytest.importorskip("scipy.sparse")
datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch, tmp_path):
    """Chunks of a few hundred bytes, so every file crosses many chunk boundaries;
    stores next to the files (never in the user's cache)."""
    monkeypatch.setattr(svmlight, "CHUNK_BYTES", 300)
    monkeypatch.delenv(svmlight.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))


def random_csr(n, d, density, seed, integers=False):
    """Random sparse rows (sorted columns, no repeats, no zeros), as scikit-learn writes and reads them."""
    rng = np.random.default_rng(seed)
    nnz = int(n * d * density)
    if integers:
        values = rng.integers(-5, 6, nnz).astype(float)
    else:
        values = rng.standard_normal(nnz) * 10.0 ** rng.integers(-8, 8, nnz)
    X = sp.coo_matrix((values, (rng.integers(0, n, nnz), rng.integers(0, d, nnz))), shape=(n, d)).tocsr()
    X.eliminate_zeros()
    return X


def dump(X, y, path, zero_based=True, compress=None):
    """``path`` written by scikit-learn's dump_svmlight_file, compressed with gzip or bzip2."""
    datasets.dump_svmlight_file(X, y, str(path), zero_based=zero_based)
    if compress:
        text = Path(path).read_bytes()
        target = Path(f"{path}.{compress}")
        target.write_bytes(gzip.compress(text) if compress == "gz" else bz2.compress(text))
        Path(path).unlink()
        return target
    return Path(path)


def assert_same_csr(a, b):
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data) and a.data.dtype == b.data.dtype


# -- agreement with scikit-learn ---------------------------------------------------


@pytest.mark.parametrize(
    "labels, zero_based, compress",
    [("float", True, None), ("int", False, None), ("float", False, "gz"), ("int", True, "bz2"), ("float", "auto", None)],
)
def test_the_same_matrix_and_labels_as_scikit_learn(tmp_path, labels, zero_based, compress):
    X = random_csr(300, 25, 0.2, seed=1, integers=labels == "int")
    rng = np.random.default_rng(2)
    y = rng.integers(-1, 2, 300) * 2 + 1 if labels == "int" else rng.standard_normal(300) * 1e3
    written_zero_based = zero_based if zero_based != "auto" else False
    path = dump(X, y, tmp_path / "train.svm", written_zero_based, compress)
    theirs, their_y = datasets.load_svmlight_file(str(path), zero_based=zero_based)
    ours, our_y = svmlight.load_svmlight(path, zero_based=zero_based)
    assert_same_csr(ours, theirs)
    assert np.array_equal(our_y, their_y)


def test_auto_finds_zero_based_files_and_shifts_one_based_ones(tmp_path):
    X = random_csr(200, 12, 0.3, seed=3, integers=True).tolil()
    X[:, 0] = 0
    X[5, 0] = 1.5  # column 0 in use (once): a 0-based file
    X = X.tocsr()
    y = np.arange(200.0)
    zero = dump(X, y, tmp_path / "zero.libsvm", zero_based=True)
    one = dump(X, y, tmp_path / "one.svmlight", zero_based=False)
    for path in (zero, one):
        ours, our_y = svmlight.load_svmlight(path)
        assert_same_csr(ours, X)
        assert np.array_equal(our_y, y)
    with pytest.raises(ValueError, match=r"zero\.libsvm, line 6: index 0 in '0:1\.5', but indices are 1-based"):
        svmlight.load_svmlight(zero, zero_based=False)
    shifted, _ = svmlight.load_svmlight(one, zero_based=True)  # 1-based read as 0-based: one more column
    assert shifted.shape == (200, 13) and np.array_equal(shifted[:, 1:].toarray(), X.toarray())


def test_every_double_is_parsed_exactly(tmp_path):
    """Values and labels of random bit patterns, in several notations: the same bits as Python's float."""
    rng = np.random.default_rng(4)
    values = rng.integers(0, 2**63, 3000, dtype=np.uint64).view(np.float64)
    values = values[np.isfinite(values)]
    values[:40] = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
                   -1.7976931348623157e308, 9007199254740993.0, 0.1, 1e23, 8.98846567431158e307, 1e-320, 3.0] + list(
        rng.standard_normal(26))
    formats = [repr, lambda v: "%.17g" % v, lambda v: "%.17e" % v, lambda v: "%.30g" % v, lambda v: "%.3f" % v]
    lines = []
    expected = []
    for k, v in enumerate(values):
        text = formats[k % len(formats)](float(v))
        lines.append(f"{text} 1:{text} 2:{text}")
        expected.append(float(text))
    lines.append("1 1:" + "1" * 30 + ".5e-10 2:0." + "0" * 330 + "25")  # beyond 19 digits: settled by Python
    expected.append(1.0)
    path = tmp_path / "bits.svm"
    path.write_text("\n".join(lines))
    X, y = svmlight.load_svmlight(path)
    expected = np.array(expected)
    assert np.array_equal(y.view(np.uint64), expected.view(np.uint64))
    dense = X.data.reshape(-1, 2)
    assert np.array_equal(dense[:-1, 0].view(np.uint64), expected[:-1].view(np.uint64))
    assert np.array_equal(dense[:-1, 1].view(np.uint64), expected[:-1].view(np.uint64))
    assert dense[-1, 0] == float("1" * 30 + ".5e-10") and dense[-1, 1] == float("0." + "0" * 330 + "25")


def test_numbers_left_to_python_fill_any_number_of_lines(tmp_path):
    """Exact midpoints between two doubles, written in full (55 digits): past 19
    digits and too close to call for the compiled parser, settled by Python's float."""

    def midpoint(low):
        with localcontext(prec=100):
            return str((Decimal(low) + Decimal(np.nextafter(low, np.inf))) / 2)

    lows = [1.0 + k * 2.0**-40 for k in range(150)]  # even last bits: the ties round down to them
    middles = [midpoint(low) for low in lows]
    lines = [f"{m} 1:{m} 2:{m} 3:{m}" for m in middles]
    lines.append("1 " + " ".join(f"{j}:{midpoint(1.5)}" for j in range(1, 101)))  # one line of 100
    path = tmp_path / "ties.svm"
    path.write_text("\n".join(lines) + "\n")
    X, y = svmlight.load_svmlight(path)
    expected = np.array([float(m) for m in middles])
    assert np.array_equal(expected, lows) and len(middles[1]) > 50
    assert np.array_equal(y[:-1], expected) and y[-1] == 1
    assert np.array_equal(X.data[:450], np.repeat(expected, 3))
    assert np.all(X.data[450:] == 1.5)  # a tie rounds to even


def test_the_format_in_full(tmp_path):
    text = (
        "\ufeff# a header comment\n"
        "1 qid:3 3:1.5 1:2 # features in any order\r\n"
        "\n"
        "   \t\n"
        "-1\t2:0.25\t2:0.75  4:-1e2\n"  # a repeated index adds up
        "+1 #nothing but a label\n"
        "2.5e1 qid:-4 5:" + " 5:".join(["1"] * 400) + "\n"  # one line longer than a chunk
        "0 4:3"  # no newline at the end
    )
    path = tmp_path / "train.svm"
    path.write_bytes(text.encode())
    X, y = svmlight.load_svmlight(path)
    expected = np.zeros((5, 5))
    expected[0, [2, 0]] = 1.5, 2
    expected[1, 1], expected[1, 3] = 1.0, -100
    expected[3, 4] = 400
    expected[4, 3] = 3
    assert np.array_equal(X.toarray(), expected)
    assert list(X.indices[:2]) == [2, 0]  # stored as written
    assert np.array_equal(y, [1, -1, 1, 25, 0])
    dataset = fastgd.open_dataset(path)
    assert dataset.n_rows == 5 and dataset.n_features == 5 and dataset.target == "y"
    wide, _ = svmlight.load_svmlight(path, n_features=9)
    assert wide.shape == (5, 9)


def test_float32_values_and_int64_indices_when_int32_stops_fitting(tmp_path, monkeypatch):
    X = random_csr(400, 30, 0.2, seed=5)
    y = np.ones(400)
    path = dump(X, y, tmp_path / "train.svm")
    monkeypatch.setattr(svmlight, "INT32_LIMIT", 20)  # indices past 20 and nnz past 20 widen to int64
    ours, _ = svmlight.load_svmlight(path)
    assert ours.indices.dtype == np.int64 and ours.indptr.dtype == np.int64
    assert_same_csr(ours, datasets.load_svmlight_file(str(path))[0])
    small, _ = svmlight.load_svmlight(path, dtype=np.float32)
    assert small.dtype == np.float32 and np.array_equal(small.data, ours.data.astype(np.float32))
    (tmp_path / "huge.svm").write_text("1 1:1e39\n")
    with pytest.raises(ValueError, match=r"huge\.svm, line 1: value '1e39' in '1:1e39' is too large for float32"):
        svmlight.load_svmlight(tmp_path / "huge.svm", dtype=np.float32)


# -- fitting, and the cache ----------------------------------------------------------


def test_a_fit_on_the_file_equals_the_fit_in_memory_and_the_store_is_reused(tmp_path):
    X = sp.random(2000, 40, density=0.1, format="csr", random_state=6)
    X.data = np.round(np.random.default_rng(6).standard_normal(X.nnz), 3)
    coef = np.random.default_rng(7).standard_normal(40)
    y = X @ coef + 0.5
    path = dump(X, y, tmp_path / "train.svm", zero_based=False)
    X, exact_y = datasets.load_svmlight_file(str(path))  # the values as written
    a = fastgd.GDRegressor().fit(fastgd.open_dataset(path))
    b = fastgd.GDRegressor().fit(X, exact_y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-12)
    assert a.intercept_ == pytest.approx(b.intercept_, abs=1e-12)
    np.testing.assert_allclose(a.predict(fastgd.open_dataset(path)), b.predict(X), rtol=0, atol=1e-12)

    store = tmp_path / "train.svm.fastgd-csr"
    stamps = {f.name: f.stat().st_mtime_ns for f in store.iterdir()}
    fastgd.open_dataset(path)  # reused: nothing rewritten
    assert {f.name: f.stat().st_mtime_ns for f in store.iterdir()} == stamps
    svmlight.load_svmlight(path, zero_based=False)  # other options: another conversion
    assert json.loads((store / "meta.json").read_text())["source"]["options"]["zero_based"] is False

    dump(X[:100], y[:100] * 2, path, zero_based=False)  # the file changes: converted again
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    dataset = fastgd.open_dataset(path)
    assert dataset.n_rows == 100 and np.allclose(dataset.source.raw_target_values()[0], y[:100] * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.svm", "train.svm.fastgd-csr"]  # nothing left over


def test_cache_location(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "a.svm"
    path.write_text("1 1:1\n0 2:1\n")
    elsewhere = tmp_path / "stores"
    svmlight.open_svmlight(path, cache_dir=elsewhere)
    (store,) = elsewhere.iterdir()
    assert store.name.startswith("a.svm-") and store.name.endswith(".fastgd-csr")
    monkeypatch.setenv(svmlight.CACHE_ENV, str(elsewhere))
    svmlight.open_svmlight(path)
    assert list(elsewhere.iterdir()) == [store] and list((tmp_path / "data").iterdir()) == [path]
    monkeypatch.delenv(svmlight.CACHE_ENV)

    real = svmlight.tempfile.mkdtemp

    def unwritable(prefix, dir):
        if Path(dir) == path.parent:
            raise PermissionError(13, "Permission denied", str(dir))
        return real(prefix=prefix, dir=dir)

    monkeypatch.setattr(svmlight.tempfile, "mkdtemp", unwritable)
    assert fastgd.open_dataset(path).n_rows == 2  # the file's directory is read-only: the user's cache
    (store,) = (tmp_path / "user-cache" / "fastgd").iterdir()
    assert store.name.startswith("a.svm-")


def test_an_interrupted_conversion_leaves_no_store(tmp_path, monkeypatch):
    path = dump(random_csr(300, 10, 0.3, seed=8), np.ones(300), tmp_path / "train.svm")
    real = svmlight._Parser._write
    calls = []

    def interrupted(self, rows, nnz):
        calls.append(rows)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(self, rows, nnz)

    monkeypatch.setattr(svmlight._Parser, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fastgd.open_dataset(path)
    assert [p.name for p in tmp_path.iterdir()] == ["train.svm"]
    monkeypatch.setattr(svmlight._Parser, "_write", real)
    assert fastgd.open_dataset(path).n_rows == 300


@pytest.mark.parametrize("compress", [None, "gz"])
def test_conversion_memory_is_bounded_by_the_chunk(tmp_path, monkeypatch, compress):
    X = random_csr(10_000, 2000, 0.01, seed=9)
    path = dump(X, np.ones(10_000), tmp_path / "big.svm", compress=compress)
    size = len(gzip.decompress(path.read_bytes())) if compress else path.stat().st_size
    monkeypatch.setattr(svmlight, "CHUNK_BYTES", 1 << 14)
    assert size > 200 * svmlight.CHUNK_BYTES
    (tmp_path / "warm.svm").write_text("1 1:1\n")
    svmlight.convert_svmlight(tmp_path / "warm.svm", tmp_path / "warm")  # compile outside the measurement
    tracemalloc.start()
    try:
        svmlight.convert_svmlight(path, tmp_path / "store")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * svmlight.CHUNK_BYTES and peak < 0.1 * size  # a few chunks (gzip's buffers, the read-ahead)
    ours, _, _ = csr_store.load_csr(tmp_path / "store")
    assert_same_csr(ours, datasets.load_svmlight_file(str(path))[0])


# -- malformed lines ----------------------------------------------------------------

BAD_LINES = [
    ("1 abc:1", {}, r"'abc:1' is not index:value"),
    ("1 3", {}, r"'3' is not index:value"),
    ("1 :3", {}, r"':3' is not index:value"),
    ("1 1.5:3", {}, r"'1.5:3' is not index:value"),
    ("1 0:1", {"zero_based": False}, r"index 0 in '0:1', but indices are 1-based \(zero_based=False\)"),
    ("1 -3:1", {}, r"negative index in '-3:1'"),
    ("1 123456789012345678901234:1", {}, r"index in '123456789012345678901234:1' is too large"),
    ("1 3:x", {}, r"value 'x' in '3:x' is not a number"),
    ("1 3:", {}, r"value '' in '3:' is not a number"),
    ("1 3:nan", {}, r"value 'nan' in '3:nan' is not finite"),
    ("1 3:-Infinity", {}, r"value '-Infinity' in '3:-Infinity' is not finite"),
    ("1 3:1e400", {}, r"value '1e400' in '3:1e400' is not finite"),
    ("3:1 4:2", {}, r"missing label: the line starts with '3:1'"),
    ("qid:1 4:2", {}, r"missing label: the line starts with 'qid:1'"),
    ("yes 3:1", {}, r"label 'yes' is not a number"),
    ("1,2 3:1", {}, r"label '1,2' is not a number"),
    ("nan 3:1", {}, r"label 'nan' is not finite"),
    ("1 qid:x 3:1", {}, r"'qid:x' is not qid:N with N an integer"),
    ("1 3:1 qid:2", {}, r"'qid:2' must come right after the label"),
    ("1 7:1", {"n_features": 4}, r"index 7 is beyond n_features=4 \(indices are 1-based\)"),
]


@pytest.mark.parametrize("line, options, message", BAD_LINES, ids=[case[0] for case in BAD_LINES])
@pytest.mark.parametrize("compress", [None, "gz"])
def test_a_bad_line_is_named_with_its_file_and_number(tmp_path, line, options, message, compress):
    good = "# a comment\n\n" + "1 1:0.5 2:1\n" * 40  # 42 lines, over several chunks
    path = tmp_path / "train.svm"
    path.write_text(good + line + "\n2 2:1\n")
    if compress:
        path = tmp_path / "train.svm.gz"
        path.write_bytes(gzip.compress((tmp_path / "train.svm").read_bytes()))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}, line 43: {message}"):
        svmlight.load_svmlight(path, **options)
    assert not any(p.name.endswith(".fastgd-csr") for p in tmp_path.iterdir())


def test_files_without_rows_or_features(tmp_path):
    (tmp_path / "empty.svm").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match=r"empty\.svm has no rows"):
        fastgd.open_dataset(tmp_path / "empty.svm")
    (tmp_path / "labels.svm").write_text("1\n0\n")
    with pytest.raises(ValueError, match=r"labels\.svm has no index:value pair; pass n_features"):
        fastgd.open_dataset(tmp_path / "labels.svm")
    X, y = svmlight.load_svmlight(tmp_path / "labels.svm", n_features=3)
    assert X.shape == (2, 3) and X.nnz == 0 and list(y) == [1, 0]


# -- CSR stores ------------------------------------------------------------------------


def write_store(root, X, y=None, w=None, index_dtype=np.int32, **meta):
    """A store as a user would write it: np.save and a meta.json."""
    root.mkdir()
    np.save(root / "data.npy", X.data)
    np.save(root / "indices.npy", X.indices.astype(index_dtype))
    np.save(root / "indptr.npy", X.indptr.astype(index_dtype))
    if y is not None:
        np.save(root / "y.npy", y)
    if w is not None:
        np.save(root / "w.npy", w)
    fields = {"format": "fastgd-csr", "version": 1, "n_rows": X.shape[0], "n_features": X.shape[1]}
    (root / "meta.json").write_text(json.dumps({**fields, **meta}))
    return root


def mapped_file(a):
    """The file behind an array's memory map, found through its bases."""
    while a is not None and not isinstance(a, np.memmap):
        a = a.base
    return None if a is None else Path(a.filename).name


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_a_user_written_store_is_mapped_without_copies(tmp_path, index_dtype):
    X = random_csr(3000, 50, 0.1, seed=10)
    y = X @ np.random.default_rng(11).standard_normal(50)
    w = np.random.default_rng(12).uniform(0.5, 2, 3000)
    root = write_store(tmp_path / "train.csr", X, y, w, index_dtype)  # scipy would make int64 indices int32
    ours, our_y, our_w = csr_store.load_csr(root)
    for name, a in (("data", ours.data), ("indices", ours.indices), ("indptr", ours.indptr), ("y", our_y)):
        assert mapped_file(a) == f"{name}.npy"
    assert ours.indices.dtype == index_dtype and ours.indptr.dtype == index_dtype and not ours.data.flags.writeable
    assert_same_csr(ours, X)
    dataset = fastgd.open_dataset(root)
    assert dataset.target == "y" and dataset.source.weighted
    a = fastgd.GDRegressor().fit(dataset)
    b = fastgd.GDRegressor().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-12)
    c = fastgd.GDRegressor().fit(fastgd.open_dataset(root, target=y * 2, weight=np.ones(3000)))
    d = fastgd.GDRegressor().fit(X, y * 2)
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=0, atol=1e-12)
    assert fastgd.open_dataset(tmp_path / "train.csr").n_features == 50


def test_a_store_of_unsorted_and_repeated_columns_adds_them_up(tmp_path):
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    indices = np.array([3, 0, 3, 1, 1], np.int32)  # row 0: 3, 0, 3; row 1: 1, 1
    indptr = np.array([0, 3, 5, 5], np.int32)
    X = sp.csr_matrix((data, indices, indptr), shape=(3, 4))
    root = write_store(tmp_path / "s.csr", X, np.array([1.0, 2.0, 3.0]))
    ours, _, _ = csr_store.load_csr(root)
    assert list(ours.indices) == [3, 0, 3, 1, 1]
    assert np.array_equal(ours.toarray(), [[2, 0, 0, 4], [0, 9, 0, 0], [0, 0, 0, 0]])
    model = fastgd.GDRegressor(standardize=False).fit(fastgd.open_dataset(root))
    canonical = fastgd.GDRegressor(standardize=False).fit(sp.csr_matrix(ours.toarray()), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(model.coef_, canonical.coef_, rtol=1e-12, atol=1e-12)


def _set(name, k, value):
    def spoil(arrays):
        arrays[name][k] = value

    return spoil


def _replace(name, change):
    def spoil(arrays):
        arrays[name] = change(arrays[name])

    return spoil


#: How to spoil the arrays of a store, and the error: ``{row}`` is the row of stored position 12.
BAD_STORES = {
    "index out of range": (_set("indices", 12, 99), r"has column index 99 at row {row}, outside \[0, 20\)"),
    "negative index": (_set("indices", 12, -1), r"has column index -1 at row {row}, outside \[0, 20\)"),
    "indptr decreasing": (_set("indptr", 5, 10**6), r"not a valid CSR matrix: indptr decreases at row 5"),
    "NaN": (_set("data", 12, np.nan), r"contains NaN at row {row}, column \d+; remove or impute non-finite values"),
    "inf": (_set("data", 12, -np.inf), r"contains -inf at row {row}, column \d+"),
    "indptr end": (
        _set("indptr", -1, 3),
        r"not a valid CSR matrix: indptr has 101 entries for 100 rows, starts at 0 and ends at 3",
    ),
    "float indices": (_replace("indices", lambda a: a.astype(float)), r"indices\.npy has dtype float64; use int32 or int64"),
    "short y": (_replace("y", lambda a: a[:-1]), r"y\.npy has 99 values for 100 rows"),
    "NaN in y": (_set("y", 42, np.nan), r"contains NaN at row 42; remove or impute"),
}


@pytest.mark.parametrize("kind", BAD_STORES)
def test_bad_store_arrays_are_named(tmp_path, kind):
    X = random_csr(100, 20, 0.1, seed=13)
    arrays = {"data": X.data.copy(), "indices": X.indices.copy(), "indptr": X.indptr.copy(), "y": np.ones(100)}
    spoil, message = BAD_STORES[kind]
    spoil(arrays)
    root = tmp_path / "bad.csr"
    root.mkdir()
    for name, a in arrays.items():
        np.save(root / f"{name}.npy", a)
    (root / "meta.json").write_text(json.dumps({"format": "fastgd-csr", "version": 1, "n_rows": 100, "n_features": 20}))
    row = int(np.searchsorted(X.indptr, 12, side="right") - 1)
    with pytest.raises(ValueError, match=rf"CSR store '{re.escape(str(root))}'.*{message.format(row=row)}"):
        fastgd.open_dataset(root)


def test_the_row_named_by_a_bad_store_is_the_right_one(tmp_path):
    X = random_csr(100, 20, 0.2, seed=14)
    k = X.indptr[37] + 1  # the second entry of row 37
    data = X.data.copy()
    data[k] = np.nan
    root = write_store(tmp_path / "s.csr", sp.csr_matrix((data, X.indices, X.indptr), shape=X.shape))
    with pytest.raises(ValueError, match=rf"contains NaN at row 37, column {X.indices[k]};"):
        csr_store.load_csr(root)


def test_meta_json_is_checked_and_other_directories_stay_parquet(tmp_path):
    X = random_csr(10, 5, 0.5, seed=15)
    root = write_store(tmp_path / "a.csr", X, np.ones(10), version=2)
    with pytest.raises(ValueError, match="has version 2; this fastgd reads version 1 or older"):
        fastgd.open_dataset(root)
    (root / "meta.json").write_text(json.dumps({"format": "fastgd-csr", "version": 1, "n_rows": 10}))
    with pytest.raises(ValueError, match='needs "n_features"'):
        fastgd.open_dataset(root)
    (root / "meta.json").write_text(json.dumps({"format": "fastgd-csr", "version": 1, "n_rows": 11, "n_features": 5}))
    with pytest.raises(ValueError, match="indptr.npy has 11 entries; 11 rows need 12"):
        fastgd.open_dataset(root)
    (root / "meta.json").write_text(json.dumps({"format": "fastgd-csr", "version": 1, "n_rows": 10, "n_features": 5}))
    with pytest.raises(ValueError, match="has no named columns: pass target='y'"):
        fastgd.open_dataset(root, target="label")
    assert fastgd.open_dataset(root, target="y").n_rows == 10
    (root / "meta.json").write_text(json.dumps({"format": "something else"}))
    assert not csr_store.is_store(root)  # then it is read as a directory of Parquet files


def test_checking_an_in_memory_matrix_allocates_nothing_of_its_size():
    from fastgd.data.sparse import as_csr

    X = random_csr(50_000, 500, 0.02, seed=16)
    as_csr(X[:10])  # compiled outside the measurement
    tracemalloc.start()
    try:
        checked = as_csr(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.01 * X.data.nbytes
    assert all(np.shares_memory(getattr(checked, a), getattr(X, a)) for a in ("data", "indices", "indptr"))
    assert not checked.data.flags.writeable and X.data.flags.writeable  # a read-only view; the input untouched
