"""Categorical columns: coded full-batch passes, mini-batch epochs and the exact
least-squares solve on a generated table of string and dictionary columns.

Older commits without categorical columns skip these benchmarks.
"""

import functools
import warnings

import numpy as np

import fastgd

from .common import SEED, warm_up

N = [300_000]
EPOCHS = 2


@functools.lru_cache(maxsize=1)
def flights_like(n):
    """A table like nycflights13's: three string columns, two dictionary ones, a number; and a target."""
    import pyarrow as pa

    rng = np.random.default_rng([SEED, n])
    sizes = {"carrier": 16, "origin": 3, "dest": 105, "month": 12, "hour": 19}
    columns, y = {}, rng.standard_normal(n)
    for name, size in sizes.items():
        codes = rng.integers(0, size, n)
        y += rng.standard_normal(size)[codes]
        values = pa.array(np.char.add(name[:1], codes.astype(str)))
        columns[name] = values.dictionary_encode() if name in ("month", "hour") else values
    columns["distance"] = rng.uniform(100, 2500, n)
    return pa.table(columns), y + 0.002 * columns["distance"]


class CategoricalFits:
    """A fit over coded rows: ``EPOCHS`` full-batch L-BFGS epochs, the exact
    solve (one Gram pass and one measuring pass), or ``EPOCHS`` mini-batch epochs."""

    params = (N, ["lbfgs", "exact", "asgd_b256"])
    param_names = ["n", "mode"]
    timeout = 600

    def setup(self, n, mode):
        try:
            from fastgd.data import categorical  # noqa: F401
        except ImportError:
            raise NotImplementedError("this commit has no categorical columns")
        warm_up()
        self.data = flights_like(n)
        warnings.simplefilter("ignore")
        self.model = {
            "lbfgs": dict(optimizer="lbfgs", max_iter=EPOCHS, tol=None),
            "exact": dict(optimizer="exact"),
            "asgd_b256": dict(batch_size=256, max_iter=EPOCHS, tol=None, random_state=0),
        }[mode]
        table, y = self.data
        fastgd.GDRegressor(penalty="l2", alpha=1e-6, **self.model).fit(table.slice(0, 2000), y[:2000])

    def time_fit(self, n, mode):
        fastgd.GDRegressor(penalty="l2", alpha=1e-6, **self.model).fit(*self.data)

    def peakmem_fit(self, n, mode):
        fastgd.GDRegressor(penalty="l2", alpha=1e-6, **self.model).fit(*self.data)
