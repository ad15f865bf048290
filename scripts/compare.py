"""Side-by-side speed of fastgd, the physical limit and the peers, in one process.

The machine is shared and noisy, so every ratio comes from runs interleaved
with its baseline: each run of the figure is paired with a run of the
baseline right before it, and the ratio is the median of the per-pair
ratios. Seconds are medians too.

    python scripts/compare.py                      # 1,000,000 x 100 float64
    python scripts/compare.py --rows 200000 --features 20 --json out.json
    python scripts/compare.py --only limits,full_batch,sources
    python scripts/compare.py --only limits,scaling   # epoch time per row, 1e5 .. 1e7
"""

import argparse
import json
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
from fastgd.problem import Problem

SECTIONS = ["limits", "full_batch", "minibatch", "solution", "sources", "startup"]
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

    report.measure("fastgd mini-batch epoch, exact shuffle", per_epoch(factory("exact"), (X, y), 2), SERIAL, 4.0)
    report.measure("fastgd mini-batch epoch, block shuffle", per_epoch(factory("block"), (X, y), 2), SERIAL, 1.5)
    from sklearn.linear_model import SGDRegressor

    def sklearn_epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SGDRegressor(max_iter=1, tol=None, shuffle=True, random_state=0, eta0=1e-4).fit(X, y)

    runs = max(1, args.repeat // 2)
    report.measure("scikit-learn SGDRegressor epoch", timed(sklearn_epoch), "fastgd mini-batch epoch, block shuffle", 10.0, at_least=True, repeat=runs)
    report.measure("scikit-learn SGDRegressor epoch ", timed(sklearn_epoch), "fastgd mini-batch epoch, exact shuffle", repeat=runs)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--repeat", type=int, default=7, help="runs per median (default 7)")
    parser.add_argument("--python-rows", type=int, default=100_000, help="rows the Python mini-batch loop runs over")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS + ['scaling']}")
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
    print(f"{args.rows:,} x {args.features} {args.dtype}; {machine}")
    X, y = make_data(args.rows, args.features, np.dtype(args.dtype))
    report = Report(args.repeat)
    for section in args.only.split(","):
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
