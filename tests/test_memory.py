"""Fits read big data in place: allocations are measured, not timed."""

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastgd import kernels, losses
from fastgd._config import CHUNK_ROWS
from fastgd._validation import readonly
from fastgd.data import ArraySource
from fastgd.data.subset import split
from fastgd.kernels.columns import column_pass
from fastgd.problem import Problem

ROOT = Path(__file__).resolve().parents[1]


def allocated(kind, path, batch_size=None, shuffle="true", early_stopping=False):
    """Bytes a fit allocates (numpy, Numba and Arrow), measured in a fresh process."""
    command = [
        sys.executable, "-m", "tests.memory_probe", kind, str(path), str(batch_size).lower(), str(shuffle).lower(),
        str(early_stopping).lower(),
    ]
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    peaks = json.loads(out.stdout.strip().splitlines()[-1])
    return peaks["numpy_peak"] + peaks["arrow_peak"]


@pytest.fixture(scope="module")
def big_memmap(tmp_path_factory):
    """2,000,000 x 50 float32 (400 MB) in a .npy file, written in slices."""
    root = tmp_path_factory.mktemp("memmap")
    n, d = 2_000_000, 50
    X = np.lib.format.open_memmap(root / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    y = np.lib.format.open_memmap(root / "y.npy", mode="w+", dtype=np.float64, shape=(n,))
    rng = np.random.default_rng(31)
    coef = rng.standard_normal(d)
    for start in range(0, n, 250_000):
        part = rng.standard_normal((250_000, d), dtype=np.float32)
        X[start : start + 250_000] = part
        y[start : start + 250_000] = part @ coef + rng.standard_normal(250_000)
    X.flush()
    y.flush()
    del X, y
    return root, (root / "X.npy").stat().st_size


@pytest.mark.parametrize("batch_size, shuffle", [(None, "true"), (256, "exact"), (256, "block")])
def test_memmap_fit_allocates_under_a_tenth_of_the_file(big_memmap, batch_size, shuffle):
    root, size = big_memmap
    assert allocated("memmap", root, batch_size, shuffle) < 0.10 * size


@pytest.fixture(scope="module")
def mid_memmap(tmp_path_factory):
    """1,000,000 x 40 float64 (320 MB) in a .npy file."""
    root = tmp_path_factory.mktemp("mid")
    rng = np.random.default_rng(33)
    X = rng.standard_normal((1_000_000, 40))
    np.save(root / "X.npy", X)
    np.save(root / "y.npy", X @ rng.standard_normal(40) + rng.standard_normal(1_000_000))
    return root, X.nbytes


@pytest.mark.parametrize("batch_size, shuffle", [(None, "true"), (256, "exact"), (256, "block")])
def test_a_converted_int32_array_is_never_copied_whole(mid_memmap, batch_size, shuffle):
    root, size = mid_memmap  # the int32 array is half this; its float64 copy would be all of it
    assert allocated("int32", root, batch_size, shuffle) < 0.10 * size


@pytest.mark.parametrize("batch_size", [None, 256])
def test_a_table_of_many_chunks_is_read_in_place(mid_memmap, batch_size):
    root, size = mid_memmap
    assert allocated("chunked", root, batch_size, "true") < 0.10 * size


def peak_bytes(run):
    """Peak bytes allocated (numpy and Numba) while ``run()`` runs, after one warm-up call."""
    run()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_passes_over_held_out_rows_allocate_no_index_per_pass():
    rng = np.random.default_rng(34)
    X = rng.standard_normal((200_000, 10))
    source = ArraySource(X, y=X[:, 0].copy())
    train, held_out = split(source, 0.1, seed=0)
    theta = np.zeros(11)
    for part in (train, held_out):
        problem = Problem(source=part, loss=losses.SQUARED_ERROR)
        assert peak_bytes(lambda: problem.sums(theta)) < 0.01 * X.nbytes


def kernel_call(kernel, n, n_out=50):
    """A call of ``kernel`` over ``n`` rows of one float32 feature (``n_out`` classes for the softmax)."""
    X = readonly(np.random.default_rng(35).standard_normal((n, 1)).astype(np.float32))
    y = readonly(np.random.default_rng(36).integers(0, n_out, n).astype(np.float64))
    none, all_rows = readonly(np.empty(0)), readonly(np.empty(0, np.int64))
    if kernel == "full_pass":
        theta, total = np.zeros(2 * n_out), np.zeros(2 * n_out + 2)
        return lambda: kernels.full_pass(X, y, none, theta, kernels.MULTINOMIAL, 0.0, n_out, all_rows, CHUNK_ROWS, total, 2)
    if kernel == "column_stats":
        zeros, ones, sums, extremes = np.zeros(1), np.ones(1), np.zeros((2, 1)), np.zeros(3)
        return lambda: kernels.column_stats(X, none, zeros, zeros, ones, all_rows, CHUNK_ROWS, sums, extremes)
    column, theta, total = readonly(np.array([X.ctypes.data], np.int64)), np.zeros(2), np.zeros(4)
    like = np.empty(0, np.float32)
    return lambda: (X, column_pass(column, like, n, y, none, theta, kernels.SQUARED_ERROR, 0.0, CHUNK_ROWS, total))


@pytest.mark.parametrize("kernel", ["full_pass", "column_stats", "column_pass"])
def test_full_pass_buffers_do_not_grow_with_the_rows(kernel):
    small, large = (peak_bytes(kernel_call(kernel, n)) for n in (1_000_000, 4_000_000))
    # Partial sums kept for every chunk would grow by 2,930 rows of sums.
    assert large <= small + 16_384, (small, large)


def write_parquet_dataset(root, n_files, rows_per_file=32_768, d=40, row_group=4096):
    rng = np.random.default_rng(32)
    root.mkdir()
    for i in range(n_files):
        part = rng.standard_normal((rows_per_file, d))
        table = pa.table({**{f"x{j}": part[:, j] for j in range(d)}, "y": part.sum(axis=1)})
        pq.write_table(table, root / f"part-{i}.parquet", row_group_size=row_group)
    return n_files * rows_per_file * (d + 1) * 8


@pytest.mark.parametrize("batch_size", [None, 256])
def test_parquet_fit_memory_is_bounded_by_blocks_not_dataset_size(tmp_path, batch_size):
    small_size = write_parquet_dataset(tmp_path / "small", 2)
    large_size = write_parquet_dataset(tmp_path / "large", 8)
    small = allocated("parquet", tmp_path / "small", batch_size, "true")
    large = allocated("parquet", tmp_path / "large", batch_size, "true")
    # Four times the data, about the same peak: it follows the row groups
    # (4096 x 41 float64 = 1.3 MB, a few decoded at once by Arrow's threads)
    # and the shuffle buffer (four 8192-row blocks, 10.7 MB), not the 86 MB of
    # data. How many row groups Arrow holds at once varies from run to run.
    row_group, buffer = 4096 * 41 * 8, (4 * 8192 * 41 * 8 if batch_size else 0)
    assert large < 2 * small
    assert large < buffer + 8 * row_group + 3_000_000
    assert large < 0.25 * large_size


@pytest.fixture(scope="module")
def big_csr_store(tmp_path_factory):
    """A CSR store of 1.75M rows x 2**18 features, 50 nonzeros a row: about 1.05 GB, written in slices."""
    import json

    root = tmp_path_factory.mktemp("csr") / "train.csr"
    root.mkdir()
    n, d, per_row, step = 1_750_000, 1 << 18, 50, 250_000
    nnz = n * per_row
    data = np.lib.format.open_memmap(root / "data.npy", mode="w+", dtype=np.float64, shape=(nnz,))
    indices = np.lib.format.open_memmap(root / "indices.npy", mode="w+", dtype=np.int32, shape=(nnz,))
    np.save(root / "indptr.npy", np.arange(0, nnz + 1, per_row, dtype=np.int32))
    y = np.empty(n)
    rng = np.random.default_rng(35)
    coef = rng.standard_normal(d)
    weights = 1.0 / np.arange(1, d + 1) ** 1.05
    cdf = np.cumsum(weights) / weights.sum()
    for start in range(0, n, step):
        cols = np.minimum(np.searchsorted(cdf, rng.random(step * per_row)), d - 1).astype(np.int32)
        values = rng.random(step * per_row)
        data[start * per_row : (start + step) * per_row] = values
        indices[start * per_row : (start + step) * per_row] = cols
        y[start : start + step] = (values * coef[cols]).reshape(step, per_row).sum(axis=1)
    data.flush()
    indices.flush()
    del data, indices
    np.save(root / "y.npy", y + rng.standard_normal(n))
    (root / "meta.json").write_text(json.dumps({"format": "fastgd-csr", "version": 1, "n_rows": n, "n_features": d}))
    return root, sum(f.stat().st_size for f in root.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("batch_size, shuffle", [(None, "true"), (256, "block")])
def test_a_memory_mapped_csr_fit_allocates_under_a_tenth_of_the_store(big_csr_store, batch_size, shuffle):
    root, size = big_csr_store
    assert size > 1e9
    assert allocated("csr", root, batch_size, shuffle) < 0.10 * size
