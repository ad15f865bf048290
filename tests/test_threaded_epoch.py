"""The threaded mini-batch epoch: the same bits on any number of threads, the
textbook steps, and no deadlock however the threads are scheduled."""

import functools

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgd
from fastgd.kernels.losses import LOG_LOSS, SQUARED_ERROR
from fastgd.optim.epoch import Model, Rows, chunk_rows, minibatch_epoch
from fastgd.optim.rules import ADAM, ASGD, MOMENTUM, SGD, Step
from fastgd.optim.space import to_raw
from fastgd.optim.threaded_epoch import threaded_minibatch_epoch
from fastgd.solvers import minibatch

from .datasets import make_regression
from .naive import minibatch_path

#: Wide enough that a batch of 256 rows is four chunks (see fastgd.optim.epoch.chunk_rows).
N, D = 12_000, 40


@pytest.fixture(autouse=True)
def threads_for_any_epoch(monkeypatch):
    """Share even these small epochs among threads (the size only decides the speed, never the bits)."""
    monkeypatch.setattr(minibatch, "MINIBATCH_THREAD_WORK", 0)


def _spy(monkeypatch):
    calls = []
    kernel = minibatch.threaded_minibatch_epoch

    def spy(*args, n_threads):
        calls.append(n_threads)
        return kernel(*args, n_threads=n_threads)

    monkeypatch.setattr(minibatch, "threaded_minibatch_epoch", spy)
    return calls


def _on_threads(threads, fit):
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return fit()
    finally:
        numba.set_num_threads(before)


FITS = [
    dict(optimizer="sgd", learning_rate=0.01),
    dict(optimizer="asgd", learning_rate=0.01, max_iter=3),  # reports losses at the running average
    dict(optimizer="adam", penalty="elasticnet", alpha=1e-3, l1_ratio=0.5),
    dict(optimizer="momentum", shuffle="block", weighted=True, batch_size=300),
    dict(optimizer="sgd", standardize=False, learning_rate=0.005, float32=True, batch_size=100),
    dict(classes=3, optimizer="sgd"),
    dict(classes=2, optimizer="adam", tol=1e-4),
]


@pytest.mark.filterwarnings("ignore::fastgd.ConvergenceWarning")
@pytest.mark.parametrize("params", FITS, ids=[str(p) for p in FITS])
def test_a_fit_has_the_same_bits_on_one_thread_and_on_two(monkeypatch, params):
    params = dict(params)
    rng = np.random.default_rng(3)
    X, y, _ = make_regression(N, D, seed=4, offset=0.5)
    if params.pop("float32", False):
        X = X.astype(np.float32)
    classes = params.pop("classes", 0)
    weight = rng.uniform(0.5, 2.0, N) if params.pop("weighted", False) else None
    settings = dict(batch_size=256, max_iter=2, tol=None, random_state=0) | params
    if classes:
        y = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
        make = lambda: fastgd.GDClassifier(**settings)  # noqa: E731
    else:
        make = lambda: fastgd.GDRegressor(**settings)  # noqa: E731
    calls = _spy(monkeypatch)
    one = _on_threads(1, lambda: make().fit(X, y, sample_weight=weight))
    assert calls == []
    two = _on_threads(2, lambda: make().fit(X, y, sample_weight=weight))
    assert calls and set(calls) == {2}  # the threaded epoch ran, on two threads
    assert np.isfinite(two.coef_).all()
    assert np.array_equal(one.coef_, two.coef_) and np.array_equal(one.intercept_, two.intercept_)
    assert one.n_iter_ == two.n_iter_
    assert np.array_equal(one.loss_history_, two.loss_history_)


def _inputs(rule, loss, n, batch_size, standardized, weighted, bounds):
    rng = np.random.default_rng(11)
    d = 30
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
    z = X @ rng.normal(size=d) / 10
    y = np.sign(z - np.median(z)) if loss == LOG_LOSS else z + rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, n) if weighted else np.empty(0)
    P = d + 1
    center = X.mean(axis=0) if standardized else np.zeros(d)
    inv_scale = 1.0 / X.std(axis=0) if standardized else np.ones(d)
    chunks = chunk_rows(P, batch_size)
    assert 0 < chunks < batch_size
    model = Model(loss, 0.0, 1, batch_size, n / w.sum() if weighted else 1.0, center, inv_scale, standardized,
                  0.0, False, chunks)
    l2w = np.r_[np.full(d, 1e-3), 0.0]
    step = Step(rule, 0.9, 0.9, 0.999, 1e-8, l2w, l2w / 10, np.ones(P))
    theta = rng.normal(size=P) * 0.01
    slots = np.zeros(({ASGD: 1, ADAM: 2}.get(rule, 0), P))
    if rule == ASGD:
        slots[0] = theta
    rows = Rows(X, y, w, rng.permutation(n), np.asarray(bounds, np.int64))
    return rows, model, step, theta, slots


KERNEL_CASES = [
    dict(rule=SGD, loss=SQUARED_ERROR, n=5000, batch_size=256, standardized=False, weighted=False, bounds=[]),
    dict(rule=ASGD, loss=SQUARED_ERROR, n=4099, batch_size=200, standardized=True, weighted=True, bounds=[]),
    dict(rule=ADAM, loss=LOG_LOSS, n=3000, batch_size=512, standardized=True, weighted=False,
         bounds=[1000, 1733, 3000]),
]


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[str(c) for c in KERNEL_CASES])
def test_the_threaded_kernel_equals_the_serial_one_for_any_thread_count(case):
    """Bit for bit, with partial batches at unit ends, and with more region
    iterations than threads: iterations that start after the end return at once."""
    rows, model, step, theta0, slots0 = _inputs(**case)
    average_start = 40.0 if case["rule"] == ASGD else np.inf
    results = []
    for threads in (None, 1, 2, 3, 8):
        theta, slots = theta0.copy(), slots0.copy()
        raw = np.empty_like(theta) if model.standardized else theta
        if model.standardized:
            to_raw(theta, model.center, model.inv_scale, 1, raw)
        t, totals = 0, []
        for _ in range(3):
            if threads is None:
                loss, weight, t = minibatch_epoch(rows, model, step, theta, raw, slots, t, 0.02, average_start)
            else:
                loss, weight, t = threaded_minibatch_epoch(
                    rows, model, step, theta, raw, slots, t, 0.02, average_start, threads
                )
            totals.append((loss, weight))
        results.append((theta, raw, slots, t, np.array(totals)))
    serial = results[0]
    assert np.isfinite(serial[0]).all() and serial[4][:, 0].min() > 0
    for other in results[1:]:
        assert other[3] == serial[3]
        for a, b in zip(other[:3] + other[4:], serial[:3] + serial[4:]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("threads", [None, 2])
def test_losses_away_from_the_average_leave_the_steps_alone(threads):
    """A fit with ``tol`` measures each epoch with a pass, so its averaging epochs
    skip the losses at the average: the same steps, the sums at the iterate."""
    case = dict(KERNEL_CASES[1], weighted=False)
    rows, model, step, theta0, slots0 = _inputs(**case)
    results = {}
    for at_average in (True, False):
        m = model._replace(losses_at_average=at_average)
        theta, slots = theta0.copy(), slots0.copy()
        raw = np.empty_like(theta)
        to_raw(theta, m.center, m.inv_scale, 1, raw)
        run = minibatch_epoch if threads is None else functools.partial(threaded_minibatch_epoch, n_threads=threads)
        loss, weight, t = run(rows, m, step, theta, raw, slots, 0, 0.02, 0.0)  # averaging from the first step
        results[at_average] = (theta, raw, slots, t, loss, weight)
    (theta, raw, slots, t, loss, weight), other = results[True], results[False]
    for a, b in zip((theta, raw, slots), other[:3]):
        assert np.array_equal(a, b)
    assert t == other[3] and weight == other[5] == len(rows.y)
    # At the iterate, the first batch's loss is that of the starting point, the
    # average's is not: the sums differ, and an SGD epoch's are the iterate's.
    assert loss != other[4]
    sgd = model._replace(losses_at_average=True)
    theta, slots = theta0.copy(), np.empty((0, theta0.shape[0]))
    raw = np.empty_like(theta)
    to_raw(theta, sgd.center, sgd.inv_scale, 1, raw)
    plain = step._replace(rule=SGD)
    assert minibatch_epoch(rows, sgd, plain, theta, raw, slots, 0, 0.02, np.inf)[0] == other[4]


def test_threaded_steps_are_the_textbook_steps(monkeypatch):
    calls = _spy(monkeypatch)
    X, y, _ = make_regression(N, D, seed=9)
    # 256 divides the 512-row blocks whose ends batches never cross, as the textbook's batches do.
    model = _on_threads(2, lambda: fastgd.GDRegressor(
        optimizer="sgd", batch_size=256, shuffle=False, learning_rate=0.01, max_iter=2, tol=None,
        schedule="constant", standardize=False,
    ).fit(X, y))
    assert calls
    theta = minibatch_path(X, y, "sgd", 0.01, 2, 256)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), theta, rtol=1e-11, atol=1e-13)


def test_chunks_depend_on_the_shape_alone():
    assert chunk_rows(41, 256) == 64 and chunk_rows(101, 256) == 32
    assert chunk_rows(11, 256) == 0  # one chunk: a batch stays on one thread
    assert chunk_rows(101, 1) == 0
    assert chunk_rows(10_000, 256) == 16  # never fewer rows than 16


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 1500),
    d=st.integers(1, 50),
    batch_size=st.integers(1, 700),
    chunk=st.sampled_from([1, 3, 16, 64]),
    rule=st.sampled_from([SGD, ASGD, MOMENTUM, ADAM]),
    cuts=st.lists(st.floats(0.0, 1.0), max_size=4),
    weighted=st.booleans(),
    standardized=st.booleans(),
    threads=st.integers(2, 4),
)
def test_any_shape_gives_the_serial_bits(n, d, batch_size, chunk, rule, cuts, weighted, standardized, threads):
    """Shapes, batch sizes, chunk sizes and unit ends drawn at random: the threads never change a bit."""
    rng = np.random.default_rng(n * 7 + d)
    X = rng.normal(size=(n, d)) * 2.0 + 1.0
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, n) if weighted else np.empty(0)
    bounds = np.unique(np.r_[[int(c * n) for c in cuts if 0 < int(c * n) < n], n]).astype(np.int64)
    P = d + 1
    center = X.mean(axis=0) if standardized else np.zeros(d)
    inv_scale = 1.0 / np.maximum(X.std(axis=0), 1e-3) if standardized else np.ones(d)
    model = Model(SQUARED_ERROR, 0.0, 1, batch_size, n / w.sum() if weighted else 1.0, center, inv_scale,
                  standardized, 0.0, False, chunk)
    step = Step(rule, 0.9, 0.9, 0.999, 1e-8, np.r_[np.full(d, 1e-3), 0.0], np.zeros(P), np.ones(P))
    rows = Rows(X, y, w, rng.permutation(n), bounds)
    runs = []
    for kernel, extra in ((minibatch_epoch, ()), (threaded_minibatch_epoch, (threads,))):
        theta = np.zeros(P)
        slots = np.zeros(({SGD: 0, ASGD: 1, MOMENTUM: 1, ADAM: 2}[rule], P))
        raw = np.zeros(P) if standardized else theta
        # A finite start for every rule: only an averaging rule has an average to report at.
        loss, weight, t = kernel(rows, model, step, theta, raw, slots, 0, 1e-3, 5.0, *extra)
        runs.append((theta, raw, slots, loss, weight, t))
    a, b = runs
    assert np.isfinite(a[0]).all()
    assert a[5] == b[5] and a[3] == b[3] and a[4] == b[4]
    for x, z in zip(a[:3], b[:3]):
        assert np.array_equal(x, z)
