"""Epoch time and peak memory, full batch and mini-batch, over sizes and sources."""

import statistics
import time
import warnings

import numpy as np

import fastgd

from .common import arrays, data, warm_up

N = [100_000, 1_000_000]
D = [10, 100]
DTYPES = ["float64", "float32"]
EPOCHS = 3


def _plain(**params):
    """Plain descent at a fixed rate: no step-size passes, ``EPOCHS`` epochs."""
    return fastgd.GDRegressor(optimizer="sgd", learning_rate=1e-3, max_iter=EPOCHS, tol=None, **params)


class FullBatchEpochs:
    """``EPOCHS`` full-batch epochs (plus the starting pass)."""

    params = (N, D, DTYPES, ["numpy", "memmap", "arrow", "parquet"])
    param_names = ["n", "d", "dtype", "source"]
    timeout = 300

    def setup(self, n, d, dtype, source):
        warm_up()
        self.data = data(source, n, d, dtype)
        warnings.simplefilter("ignore")

    def time_fit(self, n, d, dtype, source):
        _plain().fit(*self.data)

    def peakmem_fit(self, n, d, dtype, source):
        _plain().fit(*self.data)


class MiniBatchEpochs:
    """``EPOCHS`` shuffled mini-batch epochs over an in-memory array."""

    params = (N, D, DTYPES, [32, 256], ["exact", "block"])
    param_names = ["n", "d", "dtype", "batch_size", "shuffle"]
    timeout = 300

    def setup(self, n, d, dtype, batch_size, shuffle):
        warm_up()
        self.data = arrays(n, d, dtype)
        warnings.simplefilter("ignore")

    def time_fit(self, n, d, dtype, batch_size, shuffle):
        _plain(batch_size=batch_size, shuffle=shuffle, random_state=0).fit(*self.data)

    def peakmem_fit(self, n, d, dtype, batch_size, shuffle):
        _plain(batch_size=batch_size, shuffle=shuffle, random_state=0).fit(*self.data)


class MiniBatchSources:
    """Block-shuffled mini-batch epochs over streamed sources."""

    params = ([1_000_000], [100], ["float64"], ["memmap", "arrow", "parquet"])
    param_names = ["n", "d", "dtype", "source"]
    timeout = 300

    def setup(self, n, d, dtype, source):
        warm_up()
        self.data = data(source, n, d, dtype)
        warnings.simplefilter("ignore")

    def time_fit(self, n, d, dtype, source):
        _plain(batch_size=256, shuffle="block", random_state=0).fit(*self.data)

    def peakmem_fit(self, n, d, dtype, source):
        _plain(batch_size=256, shuffle="block", random_state=0).fit(*self.data)


class DefaultFit:
    """A fit with every default: step size, acceleration and stopping included."""

    params = ([1_000_000], [100], ["squared_error", "log_loss"])
    param_names = ["n", "d", "loss"]
    timeout = 300

    def setup(self, n, d, loss):
        warm_up()
        X, y = arrays(n, d, "float64")
        self.data = (X, y if loss == "squared_error" else y > 0.5)
        self.estimator = fastgd.GDRegressor if loss == "squared_error" else fastgd.GDClassifier

    def time_fit(self, n, d, loss):
        self.estimator(penalty="l2", alpha=1e-4).fit(*self.data)

    def track_epochs(self, n, d, loss):
        return self.estimator(penalty="l2", alpha=1e-4).fit(*self.data).n_iter_

    track_epochs.unit = "epochs"


class ExactPermutation:
    """The row order of one exact-shuffle epoch: fastgd's bucketed shuffle
    against numpy's ``Generator.permutation`` (``track_ratio``: measured in the
    same run, after a pass that evicts the caches, as an epoch leaves them)."""

    params = ([1_000_000, 10_000_000],)
    param_names = ["n"]
    timeout = 300

    def setup(self, n):
        try:
            from fastgd.kernels.permute import bucket_bits, permutation
        except ImportError:  # commits before it: nothing to measure
            raise NotImplementedError from None
        self.draw = lambda seed: permutation(seed, seed + 1, self.out, bucket_bits(n))
        self.out = np.empty(n, np.int64)
        self.evict = np.ones(1 << 25)  # 256 MiB
        self.rng = np.random.default_rng(0)
        self.draw(0)

    def time_fastgd(self, n):
        self.draw(1)

    def time_numpy(self, n):
        self.rng.permutation(n)

    def track_ratio(self, n):
        ours, theirs = [], []
        for seed in range(5):
            self.evict.sum()
            start = time.perf_counter()
            self.draw(seed)
            ours.append(time.perf_counter() - start)
            self.evict.sum()
            start = time.perf_counter()
            self.rng.permutation(n)
            theirs.append(time.perf_counter() - start)
        return statistics.median(ours) / statistics.median(theirs)

    track_ratio.unit = "fastgd / numpy"
