"""Seeded synthetic problems shared by the tests."""

import numpy as np


def make_regression(n, d, seed=0, noise=0.5, offset=0.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) + offset).astype(dtype)
    coef = rng.standard_normal(d)
    y = X.astype(np.float64) @ coef + 1.5 + noise * rng.standard_normal(n)
    return X, y, coef


def make_classification(n, d, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = rng.standard_normal(d)
    y = (X @ coef + 0.3 + noise * rng.standard_normal(n) > 0).astype(np.int64)
    return X, y
