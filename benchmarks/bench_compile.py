"""Compile time, measured in fresh processes: cold, and with the on-disk cache warm."""

import os
import subprocess
import sys
import tempfile

FIT_ALL = """
import time
start = time.perf_counter()
import numpy as np, fastgd, warnings
warnings.simplefilter("ignore")
X = np.random.default_rng(0).standard_normal((2000, 5))
for dtype in (np.float32, np.float64):
    fastgd.GDRegressor(max_iter=2, tol=None).fit(X.astype(dtype), X[:, 0])
    fastgd.GDRegressor(batch_size=32, max_iter=2, tol=None).fit(X.astype(dtype), X[:, 0])
    fastgd.GDClassifier(max_iter=2, tol=None).fit(X.astype(dtype), X[:, 0] > 0)
print(time.perf_counter() - start)
"""

FIRST_FIT = """
import time
start = time.perf_counter()
import numpy as np, fastgd
X = np.random.default_rng(0).standard_normal((10000, 20))
fastgd.GDRegressor().fit(X, X[:, 0])
print(time.perf_counter() - start)
"""


def _seconds(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


class Compilation:
    timeout = 600
    number = 1
    repeat = 1

    def track_cold_compile(self):
        """Import and fit every kernel specialization with an empty cache."""
        with tempfile.TemporaryDirectory() as cache:
            return _seconds(FIT_ALL, cache)

    track_cold_compile.unit = "seconds"

    def track_first_fit_warm_cache(self):
        """Import plus a first default fit in a fresh process, cache warm."""
        with tempfile.TemporaryDirectory() as cache:
            _seconds(FIT_ALL, cache)
            _seconds(FIRST_FIT, cache)
            return _seconds(FIRST_FIT, cache)

    track_first_fit_warm_cache.unit = "seconds"


COLD_FIT = """
import time
start = time.perf_counter()
import numpy as np, fastgd, warnings
warnings.simplefilter("ignore")
X = np.random.default_rng(0).standard_normal((10000, 20))
fastgd.{estimator}({params}).fit(X, {target})
print(time.perf_counter() - start)
"""


class FirstFitCold:
    """Import plus one fit in a fresh process with an empty Numba cache: what a new install pays once."""

    params = (["regressor", "classifier", "minibatch"],)
    param_names = ["fit"]
    timeout = 600
    number = 1
    repeat = 1

    def track_seconds(self, fit):
        code = COLD_FIT.format(**{
            "regressor": dict(estimator="GDRegressor", params="", target="X[:, 0]"),
            "classifier": dict(estimator="GDClassifier", params="", target="X[:, 0] > 0"),
            "minibatch": dict(estimator="GDRegressor", params="batch_size=256", target="X[:, 0]"),
        }[fit])
        with tempfile.TemporaryDirectory() as cache:
            return _seconds(code, cache)

    track_seconds.unit = "seconds"
