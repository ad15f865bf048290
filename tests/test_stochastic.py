"""The fused stochastic (B=1) epoch takes the general epoch's steps, to rounding."""

import numpy as np
import pytest

import fastgd
from fastgd.kernels.losses import HUBER, LOG_LOSS, SQUARED_ERROR
from fastgd.optim.epoch import Model, Rows, minibatch_epoch
from fastgd.optim.rules import ASGD, MOMENTUM, SGD, Step
from fastgd.optim.space import to_raw
from fastgd.optim.stochastic import stochastic_epoch, takes

from .naive import minibatch_path

CASES = [
    dict(),
    dict(standardized=True),
    dict(standardized=True, l2=0.05),
    dict(l1=0.01),
    dict(standardized=True, l1=0.02, l2=0.01),
    dict(rule=ASGD, average_start=150.0),
    dict(rule=ASGD, average_start=0.0, standardized=True, l2=0.01, weighted=True),
    dict(power_t=0.5, l2=0.1, standardized=True),
    dict(loss=LOG_LOSS, standardized=True, l1=0.001),
    dict(loss=HUBER, weighted=True, shuffled=True, dtype=np.float32),
    dict(masked=True, standardized=True, l2=0.01, shuffled=True),
]


def _inputs(rule=SGD, loss=SQUARED_ERROR, standardized=False, l1=0.0, l2=0.0, power_t=0.0, average_start=np.inf,
            weighted=False, shuffled=False, masked=False, dtype=np.float64):
    rng = np.random.default_rng(7)
    n, d = 400, 6
    X = (rng.normal(size=(n, d)) * [1, 2, 3, 0.5, 4, 1] + [0, 5, -3, 1, 0, 2]).astype(dtype)
    z = X.astype(np.float64) @ rng.normal(size=d)
    y = (z > np.median(z)).astype(float) * 2 - 1 if loss == LOG_LOSS else z + rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, n) if weighted else np.empty(0)
    order = rng.permutation(n) if shuffled else np.empty(0, np.int64)
    center = X.mean(axis=0).astype(np.float64) if standardized else np.zeros(d)
    inv_scale = 1.0 / X.std(axis=0).astype(np.float64) if standardized else np.ones(d)
    P = d + 1
    l2w = np.r_[np.full(d, l2), 0.0] * np.r_[inv_scale**2, 1.0]
    l1w = np.r_[np.full(d, l1), 0.0] * np.r_[inv_scale, 1.0]
    mask = np.ones(P)
    if masked:
        mask[2] = 0.0
    model = Model(loss, 1.35, 1, 1, n / w.sum() if weighted else 1.0, center, inv_scale, standardized, power_t)
    step = Step(rule, 0.9, 0.9, 0.999, 1e-8, l2w, l1w, mask)
    theta = rng.normal(size=P) * 0.1
    slots = np.zeros((1 if rule == ASGD else 0, P))
    if rule == ASGD:
        slots[0] = theta
    return Rows(X, y, w, order, np.empty(0, np.int64)), model, step, theta, slots, average_start


def _run(kernel, rows, model, step, theta, slots, average_start, lr=0.01, epochs=3):
    theta, slots = theta.copy(), slots.copy()
    raw = theta
    if model.standardized:  # the caller's invariant: raw holds theta in data units
        raw = np.empty_like(theta)
        to_raw(theta, model.center, model.inv_scale, 1, raw)
    t, totals = 0, []
    for _ in range(epochs):
        loss, weight, t = kernel(rows, model, step, theta, raw, slots, t, lr, average_start)
        totals.append((loss, weight))
    return theta, raw, slots, t, np.array(totals)


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_the_fused_epoch_takes_the_general_steps(case):
    rows, model, step, theta, slots, average_start = _inputs(**case)
    assert takes(model, step)
    fused = _run(stochastic_epoch, rows, model, step, theta, slots, average_start)
    general = _run(minibatch_epoch, rows, model, step, theta, slots, average_start)
    assert fused[3] == general[3] == 3 * rows.X.shape[0]
    for a, b in zip(fused[:3], general[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * max(1.0, np.abs(b).max(initial=0.0)))
    np.testing.assert_allclose(fused[4], general[4], rtol=1e-12)
    if case.get("l1"):
        assert np.array_equal(fused[0] == 0, general[0] == 0)  # the same exact zeros


def test_other_rules_and_batches_keep_the_general_epoch():
    rows, model, step, *_ = _inputs()
    assert not takes(model._replace(batch_size=2), step)
    assert not takes(model, step._replace(rule=MOMENTUM))
    assert not takes(model._replace(n_out=3), step)


def test_fits_take_the_fused_epoch(monkeypatch):
    """A B=1 fit runs its epochs through :func:`stochastic_epoch`, and a B=2 fit does not."""
    from fastgd.solvers import minibatch

    calls = []

    def counted(*args):
        calls.append(1)
        return stochastic_epoch(*args)

    monkeypatch.setattr(minibatch, "stochastic_epoch", counted)
    X = np.random.default_rng(1).normal(size=(200, 3))
    fastgd.GDRegressor(batch_size=2, optimizer="sgd", max_iter=2, tol=None).fit(X, X[:, 0])
    assert calls == []
    fastgd.GDRegressor(batch_size=1, optimizer="sgd", max_iter=2, tol=None).fit(X, X[:, 0])
    assert len(calls) >= 2


def test_stochastic_fits_follow_the_textbook_path():
    """GDRegressor(batch_size=1) in stored order against plain per-row SGD in numpy."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 3.0] + 0.1 * rng.normal(size=300)
    model = fastgd.GDRegressor(batch_size=1, optimizer="sgd", learning_rate=0.01, shuffle=False, max_iter=3,
                               tol=None, standardize=False).fit(X, y)
    expected = minibatch_path(X, y, "sgd", 0.01, 3, 1)
    np.testing.assert_allclose(np.r_[model.coef_, model.intercept_], expected, rtol=1e-12, atol=1e-12)
