"""Issue 15's paths: the one-pass exact least squares on dense rows, the fused
stochastic (B=1) epoch, the threaded mini-batch epoch, and whole small fits.

Only public API is used; on commits before these paths the same calls time
what those commits did (L-BFGS for least squares, the general B=1 epoch).
"""

import warnings

import numba
import numpy as np

import fastgd

from .common import SEED, arrays, data, warm_up


class ExactLeastSquares:
    """A whole least-squares fit with ``optimizer="exact"``: the Gram pass, the solve and the measuring pass."""

    params = ([1_000_000], [20, 100], ["none", "l2", "l1"])
    param_names = ["n", "d", "penalty"]
    timeout = 600

    def setup(self, n, d, penalty):
        warm_up()
        self.X, self.y = arrays(n, d, np.float64)
        self.penalty_args = {"none": dict(penalty=None), "l2": dict(penalty="l2", alpha=1e-3),
                       "l1": dict(penalty="l1", alpha=1e-3)}[penalty]
        warnings.simplefilter("ignore")
        try:
            fastgd.GDRegressor(optimizer="exact", **self.penalty_args).fit(self.X[:2000], self.y[:2000])
        except ValueError:
            raise NotImplementedError("this commit has no exact solver for this penalty")

    def time_fit(self, n, d, penalty):
        fastgd.GDRegressor(optimizer="exact", **self.penalty_args).fit(self.X, self.y)


class ExactLeastSquaresSources:
    """The exact least-squares fit from files: Arrow and Parquet sources fill the
    Gram tiles from their columns (no row-major copy)."""

    params = ([1_000_000], [100], ["numpy", "arrow", "parquet"])
    param_names = ["n", "d", "source"]
    timeout = 600

    def setup(self, n, d, source):
        warm_up()
        self.data = data(source, n, d, np.float64)
        warnings.simplefilter("ignore")
        fastgd.GDRegressor(optimizer="exact", penalty=None).fit(*data(source, 20_000, d, np.float64))

    def time_fit(self, n, d, source):
        fastgd.GDRegressor(optimizer="exact", penalty=None).fit(*self.data)


class StochasticEpoch:
    """One more B=1 epoch of plain SGD (exact shuffle), the closing pass included."""

    params = ([200_000], [100], [False, True])
    param_names = ["n", "d", "standardize"]
    timeout = 600

    def setup(self, n, d, standardize):
        warm_up()
        self.X, self.y = arrays(n, d, np.float64)
        warnings.simplefilter("ignore")
        self.make = lambda epochs: fastgd.GDRegressor(
            batch_size=1, optimizer="sgd", learning_rate=1e-4, max_iter=epochs, tol=None, random_state=0,
            standardize=standardize,
        )
        self.make(1).fit(self.X[:2000], self.y[:2000])

    def time_two_epochs(self, n, d, standardize):
        self.make(2).fit(self.X, self.y)


class ThreadedMiniBatchEpoch:
    """Two B=256 epochs of plain SGD (exact shuffle) on one thread or on all of them."""

    params = ([1_000_000], [20, 100], ["one", "all"])
    param_names = ["n", "d", "threads"]
    timeout = 600

    def setup(self, n, d, threads):
        warm_up()
        self.X, self.y = arrays(n, d, np.float64)
        self.before = numba.get_num_threads()
        if threads == "one":
            numba.set_num_threads(1)
        warnings.simplefilter("ignore")
        self.make = lambda epochs: fastgd.GDRegressor(
            batch_size=256, shuffle="exact", optimizer="sgd", learning_rate=1e-3, max_iter=epochs, tol=None,
            random_state=0, standardize=False,
        )
        self.make(1).fit(self.X[:20_000], self.y[:20_000])

    def teardown(self, n, d, threads):
        numba.set_num_threads(self.before)

    def time_two_epochs(self, n, d, threads):
        self.make(2).fit(self.X, self.y)


class SmallFits:
    """Whole fits with defaults on 1,000 x 10: per-fit overhead."""

    params = (["regression", "logistic"],)
    param_names = ["kind"]

    def setup(self, kind):
        warm_up()
        rng = np.random.default_rng(SEED)
        self.X = rng.standard_normal((1000, 10))
        y = self.X @ rng.standard_normal(10) + rng.standard_normal(1000)
        self.estimator, self.y = (fastgd.GDRegressor, y) if kind == "regression" else (fastgd.GDClassifier, y > 0)
        self.estimator().fit(self.X, self.y)

    def time_fit(self, kind):
        self.estimator().fit(self.X, self.y)
