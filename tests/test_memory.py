"""Fits read big data in place: allocations are measured, not timed."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]


def allocated(kind, path, batch_size=None, shuffle="true"):
    """Bytes a fit allocates (numpy and Arrow), measured in a fresh process."""
    command = [sys.executable, "-m", "tests.memory_probe", kind, str(path), str(batch_size).lower(), str(shuffle).lower()]
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
