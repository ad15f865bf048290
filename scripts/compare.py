"""Side-by-side speed of fastgd, the physical limit and the peers, in one process.

Every figure is the median of repeated runs, measured here, now, beside its
baseline: the machine is shared and noisy, so only ratios measured in the same
run mean anything.

    python scripts/compare.py                      # 1,000,000 x 100 float64
    python scripts/compare.py --rows 200000 --features 20 --json out.json
    python scripts/compare.py --only limits,full_batch,sources
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

import fastgd
from fastgd import kernels
from fastgd._config import CHUNK_ROWS, FASTMATH
from fastgd.data import ArraySource
from fastgd.problem import Problem

SECTIONS = ["limits", "full_batch", "minibatch", "solution", "sources", "startup"]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _parallel_sum(X, n_chunks):
    n, d = X.shape
    rows = (n + n_chunks - 1) // n_chunks
    parts = np.zeros(n_chunks)
    for c in prange(n_chunks):
        s = 0.0
        for i in range(c * rows, min(n, (c + 1) * rows)):
            for j in range(d):
                s += X[i, j]
        parts[c] = s
    return parts.sum()


@njit(fastmath=FASTMATH, cache=True)
def _serial_sum(X):
    s = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            s += X[i, j]
    return s


def median_time(fn, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Report:
    def __init__(self):
        self.rows = []

    def add(self, name, seconds, baseline=None, target=None, note=""):
        ratio = None if baseline is None else seconds / self.seconds(baseline)
        self.rows.append(dict(name=name, seconds=seconds, baseline=baseline, ratio=ratio, target=target, note=note))
        shown = "" if ratio is None else f"{ratio:8.2f}x {baseline}"
        print(f"  {name:<44} {seconds:10.4f} s {shown} {note}", flush=True)

    def seconds(self, name):
        return next(r["seconds"] for r in self.rows if r["name"] == name)


def epoch_seconds(model_factory, fit_args, repeat, epochs=4):
    """Seconds per epoch of a fit, from fits of 1 and 1 + ``epochs`` epochs.

    The difference cancels the per-fit setup (validation, step size), leaving
    what every further epoch costs.
    """
    def timed(n):
        return median_time(lambda: model_factory(n).fit(*fit_args), repeat)

    return (timed(1 + epochs) - timed(1)) / epochs


def make_data(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n, d), dtype)
    for start in range(0, n, 100_000):
        X[start : start + 100_000] = rng.standard_normal((min(100_000, n - start), d))
    coef = rng.uniform(-1, 1, d)
    y = X @ coef + 0.5 + rng.standard_normal(n)
    return X, y


def limits(report, X, y, args):
    print("memory-read limits")
    chunks = max(1, X.shape[0] // CHUNK_ROWS)
    report.add("read limit (parallel sum)", median_time(lambda: _parallel_sum(X, chunks), args.repeat))
    report.add("single-thread sequential read", median_time(lambda: _serial_sum(X), args.repeat))


def full_batch(report, X, y, args):
    print("full-batch epoch")
    d = X.shape[1]
    problem = Problem(source=ArraySource(X, y=y), loss=kernels.SQUARED_ERROR)
    theta = np.full(d + 1, 0.01)
    report.add("fastgd fused pass (kernel only)", median_time(lambda: problem.sums(theta), args.repeat), "read limit (parallel sum)")
    lr = fastgd.GDRegressor(max_iter=3).fit(X[:50_000], y[:50_000]).learning_rate_
    factory = lambda n: fastgd.GDRegressor(optimizer="sgd", learning_rate=lr, max_iter=n, tol=None)  # noqa: E731
    report.add("fastgd full-batch epoch", epoch_seconds(factory, (X, y), args.repeat), "read limit (parallel sum)", 1.10)
    w = np.full(d, 0.01, X.dtype)

    def seeds_numpy():
        err = X @ w + 0.5 - y
        return X.T @ err / len(y), err.mean()

    report.add("seeds' numpy epoch (X @ w, X.T @ err)", median_time(seeds_numpy, args.repeat), "fastgd full-batch epoch", 4.0, "(target: at least)")
    try:
        import torch
    except ImportError:
        print("  torch not installed: skipped")
    else:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype))
        wt = torch.zeros(d, dtype=Xt.dtype, requires_grad=True)

        def torch_epoch():
            loss = 0.5 * ((Xt @ wt - yt) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                wt -= 0.01 * wt.grad
                wt.grad.zero_()

        report.add("torch full-batch epoch (autograd)", median_time(torch_epoch, args.repeat), "fastgd full-batch epoch")
    if X.dtype == np.float64:
        X32 = X.astype(np.float32)
        factory32 = lambda n: fastgd.GDRegressor(optimizer="sgd", learning_rate=lr, max_iter=n, tol=None)  # noqa: E731
        report.add("fastgd full-batch epoch, float32", epoch_seconds(factory32, (X32, y), args.repeat), "fastgd full-batch epoch", 0.6)
        del X32


def minibatch(report, X, y, args):
    print("mini-batch epoch, B=256")
    n = len(y)
    lr = 1e-3

    def factory(shuffle):
        return lambda k: fastgd.GDRegressor(batch_size=256, shuffle=shuffle, optimizer="sgd", learning_rate=lr, max_iter=k, tol=None, random_state=0)

    report.add("fastgd mini-batch epoch, exact shuffle", epoch_seconds(factory("exact"), (X, y), args.repeat, 2), "single-thread sequential read", 4.0)
    report.add("fastgd mini-batch epoch, block shuffle", epoch_seconds(factory("block"), (X, y), args.repeat, 2), "single-thread sequential read", 1.5)
    from sklearn.linear_model import SGDRegressor

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SGDRegressor(max_iter=1, tol=None, shuffle=True, random_state=0, eta0=1e-4).fit(X, y)

    report.add("scikit-learn SGDRegressor epoch", median_time(sklearn_epoch, max(1, args.repeat // 2)), "fastgd mini-batch epoch, exact shuffle", 10.0, "(target: at least)")
    rng = np.random.default_rng(0)
    rows = min(n, args.python_rows)

    def numpy_minibatch():
        w = np.zeros(X.shape[1])
        b = 0.0
        order = rng.permutation(rows)
        for start in range(0, rows, 256):
            batch = order[start : start + 256]
            xb, yb = X[batch], y[batch]
            err = xb @ w + b - yb
            w -= lr * (xb.T @ err) / len(batch)
            b -= lr * err.mean()

    seconds = median_time(numpy_minibatch, max(1, args.repeat // 2)) * n / rows
    report.add("Python loop of numpy mini-batch steps", seconds, "single-thread sequential read", note=f"(timed on {rows:,} rows, scaled)")


def solution(report, X, y, args):
    print("time to solution")
    from sklearn.linear_model import LinearRegression, LogisticRegression

    n = len(y)
    X64 = X.astype(np.float64, copy=False)
    labels = (X64 @ np.random.default_rng(1).uniform(-1, 1, X.shape[1]) + np.random.default_rng(2).standard_normal(n) > 0).astype(int)
    alpha = 1e-4
    signs = 2.0 * labels - 1

    def logistic_objective(coef, intercept):
        return np.mean(np.logaddexp(0.0, -signs * (X64 @ coef + intercept))) + 0.5 * alpha * coef @ coef

    tight = fastgd.GDClassifier(penalty="l2", alpha=alpha, tol=0).fit(X, labels)
    best = logistic_objective(tight.coef_, tight.intercept_)
    fits = {}
    runs = max(1, args.repeat // 2)
    for name, make, baseline, target in (
        ("scikit-learn LogisticRegression lbfgs", lambda: LogisticRegression(C=1 / (alpha * n)), None, None),
        ("logistic to 1e-6 gap, fastgd", lambda: fastgd.GDClassifier(penalty="l2", alpha=alpha), "scikit-learn LogisticRegression lbfgs", 0.5),
    ):
        seconds = median_time(lambda: fits.__setitem__(name, make().fit(X, labels)), runs, warmup=0)
        model = fits[name]
        gap = logistic_objective(np.ravel(model.coef_), float(np.ravel(model.intercept_)[0])) - best
        report.add(name, seconds, baseline, target, f"(objective gap {gap:.1e})")

    def least_squares_objective(coef, intercept):
        return 0.5 * np.mean((X64 @ coef + intercept - y) ** 2)

    X1 = np.column_stack([X64, np.ones(n)])
    exact = np.linalg.solve(X1.T @ X1, X1.T @ y)
    best = least_squares_objective(exact[:-1], exact[-1])
    del X1

    def normal_equations():
        gram = X64.T @ X64
        s = X64.sum(axis=0)
        A = np.block([[gram, s[:, None]], [s[None, :], np.array([[n]])]])
        return np.linalg.solve(A, np.r_[X64.T @ y, y.sum()])

    report.add("normal equations", median_time(normal_equations, max(1, args.repeat // 2)))
    report.add("scikit-learn LinearRegression", median_time(lambda: LinearRegression().fit(X, y), max(1, args.repeat // 2), warmup=0))
    fit = {}
    seconds = median_time(lambda: fit.__setitem__("m", fastgd.GDRegressor().fit(X, y)), max(1, args.repeat // 2))
    gap = (least_squares_objective(fit["m"].coef_, fit["m"].intercept_) - best) / best
    report.add("least squares to 1e-8 gap, fastgd", seconds, "normal equations", 1.0, f"(relative gap {gap:.1e}, {fit['m'].n_iter_} epochs)")


def sources(report, X, y, args):
    print("epochs over files (warm page cache) against the in-memory epoch")
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = X.shape[1]
    lr = fastgd.GDRegressor(max_iter=3).fit(X[:50_000], y[:50_000]).learning_rate_
    factory = lambda n: fastgd.GDRegressor(optimizer="sgd", learning_rate=lr, max_iter=n, tol=None)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report.add("in-memory epoch", epoch_seconds(factory, (X, y), args.repeat))
        np.save(tmp / "X.npy", X)
        mapped = np.load(tmp / "X.npy", mmap_mode="r")
        report.add("memmap epoch (warm)", epoch_seconds(factory, (mapped, y), args.repeat), "in-memory epoch", 1.15)
        del mapped
        names = [f"x{j}" for j in range(d)]
        table = pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "y": y})
        with pa.OSFile(str(tmp / "X.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=65536)
        ipc = fastgd.open_dataset(tmp / "X.arrow", target="y")
        report.add("Arrow IPC epoch (wide, memory-mapped)", epoch_seconds(factory, (ipc,), args.repeat), "in-memory epoch", 1.3)
        tensor = pa.table({"x": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), d), "y": y})
        with pa.OSFile(str(tmp / "T.arrow"), "wb") as sink, pa.ipc.new_file(sink, tensor.schema) as writer:
            writer.write_table(tensor, max_chunksize=65536)
        report.add("Arrow IPC epoch (tensor column)", epoch_seconds(factory, (fastgd.open_dataset(tmp / "T.arrow", target="y"),), args.repeat), "in-memory epoch", 1.3)
        del table, tensor
        pq.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "y": y}), tmp / "X.parquet", row_group_size=65536)
        parquet = fastgd.open_dataset(tmp / "X.parquet", target="y")
        report.add("Parquet epoch (warm page cache)", epoch_seconds(factory, (parquet,), max(1, args.repeat // 2), 2), "in-memory epoch")


def startup(report, X, y, args):
    print("import plus first fit in a fresh process (on-disk cache warm)")
    code = (
        "import time; t = time.perf_counter(); import numpy as np, fastgd; "
        "X = np.random.default_rng(0).standard_normal((10000, 20)); "
        "fastgd.GDRegressor().fit(X, X[:, 0]); print(time.perf_counter() - t)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    seconds = statistics.median(
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    )
    report.add("import + first fit, fresh process", seconds, None, 2.0, "(target: seconds)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--repeat", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--python-rows", type=int, default=100_000, help="rows the Python mini-batch loop runs over")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    args = parser.parse_args(argv)
    machine = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "threads": numba.get_num_threads(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastgd": fastgd.__version__,
    }
    print(f"{args.rows:,} x {args.features} {args.dtype}; {machine}")
    X, y = make_data(args.rows, args.features, np.dtype(args.dtype))
    report = Report()
    for section in args.only.split(","):
        globals()[section.strip()](report, X, y, args)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": args.rows, "features": args.features, "dtype": args.dtype, "results": report.rows}, indent=1))
    return 0


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
