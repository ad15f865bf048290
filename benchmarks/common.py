"""Seeded benchmark data, cached in memory and on disk.

Arrays are generated once per process; the files (``.npy`` memory maps,
Arrow IPC, Parquet) once per machine, under ``FASTGD_BENCH_DATA`` (default
``~/.cache/fastgd-bench``), and reused by every commit asv measures.
Only public fastgd API is used, so the suite runs on older commits too.
"""

import functools
import os
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("FASTGD_BENCH_DATA", Path.home() / ".cache" / "fastgd-bench"))
SEED = 1234


@functools.lru_cache(maxsize=4)
def arrays(n, d, dtype):
    """``(X, y)``: a regression problem with ``n`` rows and ``d`` features."""
    rng = np.random.default_rng([SEED, n, d])
    X = np.empty((n, d), dtype)
    for start in range(0, n, 250_000):
        X[start : start + 250_000] = rng.standard_normal((min(250_000, n - start), d))
    y = X.astype(np.float64, copy=False) @ rng.uniform(-1, 1, d) + 0.5 + rng.standard_normal(n)
    return X, y


def path(kind, n, d, dtype):
    """A data file of ``kind`` ("npy", "arrow", "parquet"), written on first use."""
    stem = ROOT / f"{kind}-{n}-{d}-{np.dtype(dtype).name}"
    target = stem.with_suffix({"npy": "", "arrow": ".arrow", "parquet": ".parquet"}[kind])
    if not target.exists():
        _write(kind, target, *arrays(n, d, dtype))
    return target


def _write(kind, target, X, y):
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if kind == "npy":
        partial.mkdir(exist_ok=True)
        np.save(partial / "X.npy", X)
        np.save(partial / "y.npy", y)
    else:
        import pyarrow as pa

        table = pa.table({**{f"x{j}": X[:, j] for j in range(X.shape[1])}, "y": y})
        if kind == "arrow":
            with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=65536)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, partial, row_group_size=65536)
    partial.rename(target)


def data(source, n, d, dtype):
    """What ``fit`` takes for ``source``: ``(X, y)`` or ``(dataset,)``."""
    import fastgd

    if source == "numpy":
        return arrays(n, d, dtype)
    if source == "memmap":
        folder = path("npy", n, d, dtype)
        return np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
    if not hasattr(fastgd, "open_dataset"):
        raise NotImplementedError("this commit has no open_dataset")
    return (fastgd.open_dataset(path(source, n, d, dtype), target="y"),)


def warm_up():
    """Compile (or load from the on-disk cache) every kernel the benchmarks use."""
    import fastgd

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        X = rng.standard_normal((2000, 5)).astype(dtype)
        fastgd.GDRegressor(max_iter=2, tol=None).fit(X, X[:, 0])
        fastgd.GDRegressor(batch_size=32, max_iter=2, tol=None).fit(X, X[:, 0])
        fastgd.GDClassifier(max_iter=2, tol=None).fit(X, X[:, 0] > 0)
        if hasattr(fastgd, "open_dataset"):
            import pyarrow as pa

            table = pa.table({**{f"x{j}": X[:, j] for j in range(5)}, "y": X[:, 0].astype(np.float64)})
            dataset = fastgd.open_dataset(table, target="y")
            fastgd.GDRegressor(max_iter=2, tol=None).fit(dataset)
            fastgd.GDRegressor(batch_size=32, max_iter=2, tol=None).fit(dataset)
