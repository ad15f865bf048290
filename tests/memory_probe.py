"""Run one fit in a fresh process and print the memory it allocated, as JSON.

A fresh process gives a clean high-water mark for Arrow's memory pool, which
cannot be reset. Numpy allocations are traced with tracemalloc. Compilation
happens before the measurement, on a small problem of the same dtypes.

usage: python -m tests.memory_probe KIND PATH [BATCH_SIZE] [SHUFFLE]
"""

import json
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa

import fastgd


def main(kind, path, batch_size=None, shuffle="true"):
    path = Path(path)
    batch_size = None if batch_size in (None, "none") else int(batch_size)
    shuffle = {"true": True, "false": False}.get(shuffle, shuffle)
    params = dict(batch_size=batch_size, shuffle=shuffle, max_iter=2, tol=None)
    if kind == "memmap":
        X = np.load(path / "X.npy", mmap_mode="r")
        y = np.load(path / "y.npy", mmap_mode="r")
        data = (X, y)
    else:
        data = (fastgd.open_dataset(path, target="y"),)
        X = np.ones((1, data[0].n_features), data[0].source.dtype)
    warm = np.random.default_rng(0).standard_normal((2000, X.shape[1])).astype(X.dtype)
    fastgd.GDRegressor(**{**params, "shuffle": True}).fit(warm, warm[:, 0])
    pool = pa.default_memory_pool()
    arrow_before = pool.max_memory()
    tracemalloc.start()
    fastgd.GDRegressor(**params).fit(*data)
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"numpy_peak": numpy_peak, "arrow_peak": max(pool.max_memory() - arrow_before, 0)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
