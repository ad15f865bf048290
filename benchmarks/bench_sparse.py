"""Sparse rows: full-batch passes and stochastic / mini-batch epochs over text-like CSR data.

The data is generated in the process (Zipf column frequencies, about 50
nonzeros a row). Needs scipy, which fastgd depends on from the sparse
release on; older commits skip these benchmarks.
"""

import functools
import warnings

import numpy as np

import fastgd

from .common import SEED, warm_up

N = [200_000]
FEATURES = [1 << 14, 1 << 20]
EPOCHS = 2


@functools.lru_cache(maxsize=2)
def text_like(n, d, per_row=50):
    """``(X, y)``: CSR counts of Zipf-distributed columns and a linear target."""
    import scipy.sparse as sp

    rng = np.random.default_rng([SEED, n, d])
    weights = 1.0 / np.arange(1, d + 1) ** 1.05
    cdf = np.cumsum(weights) / weights.sum()
    columns = np.minimum(np.searchsorted(cdf, rng.random(n * per_row)), d - 1).astype(np.int32)
    X = sp.csr_matrix((rng.random(n * per_row), columns, np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    X.sum_duplicates()
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    return X, y


class SparseEpochs:
    """``EPOCHS`` epochs: full batch, stochastic (B=1, the scaled path of plain
X
    general lazy path)."""

    params = (N, FEATURES, ["full", "sgd_b1", "lazy_b32"])
    param_names = ["n", "d", "mode"]
    timeout = 600

    def setup(self, n, d, mode):
        try:
            import scipy.sparse  # noqa: F401
        except ImportError:
            raise NotImplementedError("scipy is not installed")
        warm_up()
        self.data = text_like(n, d)
        warnings.simplefilter("ignore")
        self.model = {
            "full": dict(optimizer="sgd", learning_rate=1e-3, standardize=False),
            "sgd_b1": dict(optimizer="sgd", learning_rate=1e-3, batch_size=1, penalty="l2", alpha=1e-6,
                           standardize=False, random_state=0),
            "lazy_b32": dict(batch_size=32, penalty="l2", alpha=1e-6, random_state=0),
        }[mode]
        fastgd.GDRegressor(max_iter=1, tol=None, **self.model).fit(self.data[0][:2000], self.data[1][:2000])

    def time_fit(self, n, d, mode):
        fastgd.GDRegressor(max_iter=EPOCHS, tol=None, **self.model).fit(*self.data)

    def peakmem_fit(self, n, d, mode):
        fastgd.GDRegressor(max_iter=EPOCHS, tol=None, **self.model).fit(*self.data)
