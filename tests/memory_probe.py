"""Run one fit in a fresh process and print the memory it allocated, as JSON.

A fresh process gives a clean high-water mark for Arrow's memory pool, which
cannot be reset. Numpy allocations (and Numba's, which go through the same
allocator) are traced with tracemalloc. Compilation happens before the
measurement, on a small problem of the same dtypes. The data is in memory
(or mapped) before the measurement starts.

usage: python -m tests.memory_probe KIND PATH [BATCH_SIZE] [SHUFFLE] [EARLY_STOPPING]

KIND: memmap (X.npy, y.npy mapped), int32 (X.npy read into an int32 array),
chunked (X.npy as an Arrow table whose columns have 8 chunks each), csr (a
CSR store directory, memory-mapped), or anything else for a file
``open_dataset`` reads with target ``y``.
"""

import contextlib
import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa

import fastgd


@contextlib.contextmanager
def threaded_kernels():
    """Threads for any work, so that a warm-up fit on few rows compiles the
    kernels the measured fit runs on threads as well as on one (compiling allocates)."""
    from fastgd import _threads, passes
    from fastgd.solvers import minibatch

    saved = _threads.PARALLEL_WORK, passes.PASS_THREAD_WORK, minibatch.MINIBATCH_THREAD_WORK
    _threads.PARALLEL_WORK = passes.PASS_THREAD_WORK = minibatch.MINIBATCH_THREAD_WORK = 0
    try:
        yield
    finally:
        _threads.PARALLEL_WORK, passes.PASS_THREAD_WORK, minibatch.MINIBATCH_THREAD_WORK = saved


def load(kind, path):
    """The fit's arguments, and an array of the dtype the kernels will see."""
    if kind in ("memmap", "int32", "chunked"):
        X = np.load(path / "X.npy", mmap_mode="r")
        y = np.load(path / "y.npy", mmap_mode="r")
        if kind == "int32":
            X = np.round(X * 100).astype(np.int32)
        elif kind == "chunked":
            pieces = np.array_split(np.arange(X.shape[0]), 8)
            X = pa.concat_tables(
                [pa.table({f"x{j}": np.array(X[rows, j]) for j in range(X.shape[1])}) for rows in pieces]
            )
            y = np.array(y)
        return (X, y), np.ones((1, 1), np.float64 if kind != "memmap" else X.dtype)
    dataset = fastgd.open_dataset(path, target="y")
    return (dataset,), np.ones((1, 1), dataset.source.dtype)


def main(kind, path, batch_size=None, shuffle="true", early_stopping="false"):
    path = Path(path)
    batch_size = None if batch_size in (None, "none") else int(batch_size)
    shuffle = {"true": True, "false": False}.get(shuffle, shuffle)
    params = dict(batch_size=batch_size, shuffle=shuffle, max_iter=2, tol=None)
    if early_stopping == "true":
        params.update(early_stopping=True, tol=1e-4, n_iter_no_change=5, random_state=0)
    data, like = load(kind, path)
    d = data[0].shape[1] if hasattr(data[0], "shape") else data[0].n_features
    if kind == "csr":
        import scipy.sparse as sp

        X = data[0].source._X
        warm = sp.csr_matrix(X[:5000])
        warm.indices, warm.indptr = warm.indices.astype(X.indices.dtype), warm.indptr.astype(X.indptr.dtype)
        for threads in (contextlib.nullcontext(), threaded_kernels()):
            with threads:
                fastgd.GDRegressor(**params).fit(warm, np.asarray(data[0].source._raw_y[:5000], dtype=np.float64))
        params["max_iter"] = 1  # the peak of one epoch is the peak of all
    else:
        warm = np.random.default_rng(0).standard_normal((5000, d)).astype(like.dtype)
        warm_data = (pa.table({f"x{j}": warm[:, j] for j in range(d)}),) if kind == "chunked" else (warm,)
        for threads in (contextlib.nullcontext(), threaded_kernels()):
            with threads:
                fastgd.GDRegressor(**params).fit(*warm_data, warm[:, 0])
    pool = pa.default_memory_pool()
    arrow_before = pool.max_memory()
    tracemalloc.start()
    fastgd.GDRegressor(**params).fit(*data)
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"numpy_peak": numpy_peak, "arrow_peak": max(pool.max_memory() - arrow_before, 0)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
