"""Mini-batch and stochastic descent on sparse rows: lazy updates at O(nonzeros) a row."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgd
from fastgd.kernels.losses import LOG_LOSS, SQUARED_ERROR
from fastgd.optim.epoch import Model
from fastgd.optim.lazy import idle_steps
from fastgd.optim.rules import RULES, Step
from fastgd.kernels.rowstore import CSRStore
from fastgd.optim.sparse_epoch import SparseRows, sparse_minibatch_epoch

from .naive import _prox, lazy_sparse_path
from .test_sparse import text_like

sp = pytest.importorskip("scipy.sparse")

PENALTIES = [(0.0, 0.0), (0.5, 0.0), (0.0, 0.05), (0.3, 0.02)]


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    X = sp.random(300, 40, density=0.08, random_state=1, format="csr") * 3
    y = X @ rng.standard_normal(40) + 0.3 * rng.standard_normal(300)
    return X, y, np.where(y > np.median(y), 1.0, -1.0), rng.permutation(300)


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("l2, l1", PENALTIES)
def test_lazy_updates_equal_the_eager_reference(rows, rule, l2, l1):
    X, y, labels, order = rows
    d = X.shape[1]
    r = RULES[rule]
    lr = 0.01 if r.adaptive else 0.05
    average_start = 40.0 if r.averaging else math.inf
    for batch_size in (1, 7):
        for loss, target in ((SQUARED_ERROR, y), (LOG_LOSS, labels)):
            name = "squared_error" if loss == SQUARED_ERROR else "log_loss"
            expected, expected_average = lazy_sparse_path(
                X, target, order, batch_size, rule, lr, l2, l1, name, average_start=average_start
            )
            # Plain SGD with L2 alone also takes the scaled path.
            for scaled in (False, True) if rule == "sgd" and l1 == 0.0 else (False,):
                theta = np.zeros(d + 1)
                slots = np.zeros((r.slots, d + 1))
                step = Step(r.code, 0.9, 0.9, 0.999, 1e-8, np.r_[np.full(d, l2), 0.0],
                            np.r_[np.full(d, l1), 0.0], np.ones(d + 1))
                model = Model(loss, 0.0, 1, batch_size, 1.0, np.zeros(d), np.ones(d), False, 0.0, scaled)
                csr = SparseRows(CSRStore(X.data, X.indices, X.indptr), target, np.empty(0), order.astype(np.int64),
                                 np.empty(0, np.int64))
                _, _, t = sparse_minibatch_epoch(csr, model, step, theta, slots, 0, lr, average_start)
                assert t == math.ceil(300 / batch_size)
                assert np.abs(expected).max() > 0.01  # the path went somewhere
                np.testing.assert_allclose(theta, expected, rtol=0, atol=1e-10 * max(1.0, np.abs(expected).max()))
                if r.averaging:
                    np.testing.assert_allclose(slots[0], expected_average, rtol=0, atol=1e-10)
                if l1 > 0 and rule in ("sgd", "asgd"):
                    assert np.array_equal(theta[:-1] == 0.0, expected[:-1] == 0.0)  # zeros where eager has them


@settings(max_examples=300, deadline=None)
@given(
    v=st.floats(-10.0, 10.0),
    k=st.integers(0, 3000),
    size=st.floats(1e-6, 1.0),
    l2w=st.sampled_from([0.0, 1e-12, 1e-6, 1e-3, 0.5, 20.0]),
    l1w=st.sampled_from([0.0, 1e-6, 1e-3, 0.1]),
)
def test_the_closed_form_equals_repeated_proximal_steps(v, k, size, l2w, l1w):
    eager, total = v, 0.0
    for _ in range(k):
        eager = _prox(eager, size, l2w, l1w)
        total += eager
    value, summed = idle_steps(v, k, size * l2w, math.log1p(size * l2w), size * l1w, True)
    scale = max(1.0, abs(v))
    assert abs(value - eager) <= 1e-12 * scale
    assert abs(summed - total) <= 1e-12 * scale * max(k, 1)
    if l1w > 0.0 and abs(eager) > 1e-9 * scale:
        assert value != 0.0


@pytest.fixture(scope="module")
def problem():
    X = text_like(3000, 80, seed=3)
    rng = np.random.default_rng(4)
    z = X @ rng.standard_normal(80) / 4
    return X, X.toarray(), z + 0.3 * rng.standard_normal(3000)


CASES = [
    dict(optimizer="sgd"),
    dict(optimizer="asgd", penalty="l2", alpha=1e-3),
    dict(optimizer="sgd", penalty="l1", alpha=0.01),
    dict(optimizer="asgd", penalty="elasticnet", alpha=0.01, l1_ratio=0.5),
    dict(optimizer="sgd", batch_size=1),
    dict(optimizer="asgd", shuffle=False),
    dict(optimizer="sgd", sample_weight=True),
    dict(optimizer="asgd", schedule="invscaling", penalty=None),
]


@pytest.mark.parametrize("params", CASES, ids=[str(c) for c in CASES])
def test_sparse_minibatch_fit_equals_the_dense_fit(problem, params):
    X, dense, y = problem
    params = dict(params)
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(y)) if params.pop("sample_weight", False) else None
    kwargs = dict(dict(batch_size=16, max_iter=4, tol=None, random_state=0, standardize=False), **params)
    a = fastgd.GDRegressor(**kwargs).fit(X, y, sample_weight=weights)
    b = fastgd.GDRegressor(**kwargs).fit(dense, y, sample_weight=weights)
    scale = np.abs(b.coef_).max()
    assert scale > 0.1
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-10 * max(1.0, abs(b.intercept_)))
    np.testing.assert_allclose(a.loss_history_, b.loss_history_, rtol=1e-10)


def test_sparse_minibatch_softmax_equals_the_dense_fit(problem):
    X, dense, y = problem
    labels = np.digitize(y, np.quantile(y, [0.3, 0.7]))
    kwargs = dict(batch_size=8, max_iter=3, tol=None, random_state=1, standardize=False, penalty="l1", alpha=1e-3)
    a = fastgd.GDClassifier(**kwargs).fit(X, labels)
    b = fastgd.GDClassifier(**kwargs).fit(dense, labels)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10 * np.abs(b.coef_).max())


def test_default_sparse_minibatch_fits_reach_the_optimum_with_scaled_coordinates(problem):
    X, dense, y = problem
    best = fastgd.GDRegressor(penalty="l2", alpha=1e-3).fit(dense, y)
    ours = fastgd.GDRegressor(penalty="l2", alpha=1e-3, batch_size=32, random_state=0).fit(X, y)
    assert ours.converged_
    assert np.all(ours.feature_mean_ == 0.0)  # scaled, not centred: every step stays sparse
    np.testing.assert_allclose(ours.feature_scale_, np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel()))

    def objective(m):
        return 0.5 * np.mean((dense @ m.coef_ + m.intercept_ - y) ** 2) + 0.5e-3 * m.coef_ @ m.coef_

    assert (objective(ours) - objective(best)) / objective(best) < 1e-3


def test_what_lazy_updates_cannot_do_is_refused(problem):
    X, dense, y = problem
    with pytest.raises(ValueError, match="schedule='invscaling' changes the rate at every mini-batch"):
        fastgd.GDRegressor(batch_size=8, schedule="invscaling", penalty="l2", alpha=1e-3,
                            learning_rate=0.01).fit(X, y)
    model = fastgd.GDRegressor(batch_size=8, random_state=0).partial_fit(dense, y)
    with pytest.raises(ValueError, match="not centred, but this fit continues from centred ones"):
        model.partial_fit(X, y)


def test_partial_fit_streams_sparse_rows(problem):
    X, dense, y = problem
    a = fastgd.GDRegressor(batch_size=8, random_state=0, standardize=False, learning_rate=0.01)
    b = fastgd.GDRegressor(batch_size=8, random_state=0, standardize=False, learning_rate=0.01)
    for part in range(3):
        rows = slice(part * 1000, (part + 1) * 1000)
        a.partial_fit(X[rows], y[rows])
        b.partial_fit(dense[rows], y[rows])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10 * np.abs(b.coef_).max())


def test_a_minibatch_epoch_never_densifies():
    X = text_like(200_000, 2000, seed=8)
    y = np.asarray(X.sum(axis=1)).ravel()
    kwargs = dict(batch_size=32, max_iter=2, tol=None, random_state=0, learning_rate=1e-4, standardize=False)
    fastgd.GDRegressor(**dict(kwargs, max_iter=1)).fit(X, y)  # compile (threaded kernels too) outside the probe
    stored = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    tracemalloc.start()
    try:
        fastgd.GDRegressor(**kwargs).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The shuffle's order (8 bytes a row) and O(features) state: nothing of n x d.
    assert peak < 8 * X.shape[0] + 64 * X.shape[1] + (1 << 20)


def test_every_shuffle_mode_visits_every_row_once_an_epoch(problem):
    from fastgd.data.sparse import natural_blocks

    X, _, y = problem
    X, y = sp.vstack([X] * 4).tocsr(), np.tile(y, 4)
    sizes = natural_blocks(X.indptr)
    assert sizes.sum() == X.shape[0] and len(sizes) > 1 and np.all(sizes > 0)
    from fastgd.data.sparse import SparseSource

    source = SparseSource(X, y, raw_y=y)
    rng = np.random.default_rng(0)
    for shuffle in (True, "exact", "block", False):
        seen = []
        for rows in source.epochs(shuffle, None, 16).units(rng):
            assert rows.X is X  # read in place
            seen.append(rows.order if len(rows.order) else np.arange(X.shape[0]))
        seen = np.concatenate(seen)
        assert np.array_equal(np.sort(seen), np.arange(X.shape[0]))
        if shuffle:
            assert not np.array_equal(seen, np.arange(X.shape[0]))


def test_dask_arrays_of_sparse_chunks(problem):
    da = pytest.importorskip("dask.array")
    import dask

    X, dense, y = problem
    chunks = da.from_array(X, chunks=(700, X.shape[1]), asarray=False)
    targets = da.from_array(y, chunks=700)
    with dask.config.set(scheduler="synchronous"):
        for kwargs in (dict(), dict(batch_size=16, max_iter=3, tol=None, random_state=0, standardize=False)):
            a = fastgd.GDRegressor(**kwargs).fit(chunks, targets)
            b = fastgd.GDRegressor(optimizer="exact").fit(dense, y) if not kwargs else None  # sparse "auto" is exact
            if b is not None:
                np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-10 * np.abs(b.coef_).max())
            np.testing.assert_allclose(np.asarray(a.predict(chunks)), a.predict(X), rtol=1e-12, atol=1e-12)
        bad = X.copy()
        bad.data[bad.indptr[1500]] = np.inf
        with pytest.raises(ValueError, match=rf"partition 2: X contains inf at row 1500, column {bad.indices[bad.indptr[1500]]}"):
            fastgd.GDRegressor().fit(da.from_array(bad, chunks=(700, X.shape[1]), asarray=False), targets)


def test_a_bad_target_is_named_with_its_row(problem):
    X, _, y = problem
    bad = y.copy()
    bad[17] = np.nan
    for kwargs in (dict(), dict(batch_size=8)):
        with pytest.raises(ValueError, match="y contains NaN at row 17"):
            fastgd.GDRegressor(**kwargs).fit(X, bad)
