"""scipy.sparse input in full batch: the same fits as the dense data, never densified."""

import tracemalloc
import warnings

import numba
import numpy as np
import pytest

import fastgd
from fastgd.kernels import sparse as kernels
from fastgd.kernels.losses import LOG_LOSS
from fastgd.kernels.rowstore import CSRStore

from .naive import objective

sp = pytest.importorskip("scipy.sparse")


def text_like(n, d, seed, per_row=5):
    """Counts of ``per_row`` draws a row from Zipf-distributed columns (repeats add up)."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, d + 1) ** 0.8
    columns = rng.choice(d, size=n * per_row, p=frequency / frequency.sum())
    rows = np.repeat(np.arange(n), per_row)
    values = rng.poisson(1.0, n * per_row) + 1.0
    return sp.coo_matrix((values, (rows, columns)), shape=(n, d)).tocsr()


@pytest.fixture(scope="module")
def problem():
    X = text_like(4000, 60, seed=1)
    rng = np.random.default_rng(2)
    coef = rng.standard_normal(60)
    dense = X.toarray()
    z = dense @ coef / 4
    return X, dense, z, rng


FORMATS = {
    "csr": lambda X: X,
    "csc": lambda X: X.tocsc(),
    "coo": lambda X: X.tocoo(),
    "csr_array": lambda X: sp.csr_array(X),
    "float32": lambda X: X.astype(np.float32),
    "int64 indices": lambda X: sp.csr_matrix(
        (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), shape=X.shape),
}

CASES = [
    ("squared_error", dict()),  # the exact solver, which "auto" takes for least squares
    ("squared_error", dict(standardize=False)),
    ("squared_error", dict(optimizer="lbfgs", penalty="l2", alpha=1e-3)),
    ("squared_error", dict(penalty="l1", alpha=0.01)),
    ("squared_error", dict(penalty="elasticnet", alpha=0.02, l1_ratio=0.5)),
    ("huber", dict(penalty="l2", alpha=1e-3)),
    ("poisson", dict(penalty="l2", alpha=1e-4)),
    ("log_loss", dict(penalty="l2", alpha=1e-3)),
    ("log_loss", dict(penalty="l1", alpha=1e-3)),
    ("softmax", dict(penalty="l2", alpha=1e-3)),
]


def _target(loss, z):
    if loss == "poisson":
        return np.random.default_rng(3).poisson(np.exp(np.clip(z / 4, -3, 3))).astype(float)
    if loss == "log_loss":
        return np.where(z > np.median(z), "yes", "no")
    if loss == "softmax":
        return np.digitize(z, np.quantile(z, [0.33, 0.66]))
    return z + 0.5 + 0.3 * np.random.default_rng(4).standard_normal(len(z))


@pytest.mark.parametrize("loss, params", CASES, ids=[f"{l}-{p}" for l, p in CASES])
def test_sparse_fit_equals_the_dense_fit(problem, loss, params):
    X, dense, z, _ = problem
    y = _target(loss, z)
    weights = np.random.default_rng(11).uniform(0.5, 2.0, X.shape[0])
    classify = loss in ("log_loss", "softmax")
    cls = fastgd.GDClassifier if classify else fastgd.GDRegressor
    kwargs = dict(params, **({} if classify else {"loss": loss}))
    if classify:
        kwargs["loss"] = "log_loss"
    # Sums are taken in another order (runs of rows, not the dense chunks):
    # paths are mostly identical to 1e-15, and may part by an epoch where a
    # line search decides on the last bits (Poisson), so the objectives must
    # agree to 1e-10 and the coefficients to 1e-7.
    exact = loss == "squared_error" and "optimizer" not in params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.ConvergenceWarning)  # a float64 stall, the same on both
        a = cls(**kwargs).fit(X, y, sample_weight=weights)
        b = cls(**dict(kwargs, **({"optimizer": "exact"} if exact else {}))).fit(dense, y, sample_weight=weights)
    assert (a.n_iter_ == 1) == exact
    assert a.converged_ == b.converged_ and abs(a.n_iter_ - b.n_iter_) <= 2
    fa, fb = a.loss_history_[-1], b.loss_history_[-1]
    assert abs(fa - fb) <= 1e-10 * abs(fb)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-7 * max(1.0, np.abs(b.coef_).max()))
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-7 * max(1.0, np.abs(b.intercept_).max()))
    if classify:
        # Predictions of one model agree, sparse or dense rows, to rounding.
        np.testing.assert_allclose(a.decision_function(X), a.decision_function(dense), rtol=0, atol=1e-12)
        assert np.array_equal(a.predict(X), a.predict(dense))
        np.testing.assert_allclose(a.predict_proba(X), a.predict_proba(dense), rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(a.predict(X), a.predict(dense), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_and_dtype_gives_the_csr_fit(problem, kind):
    X, dense, z, _ = problem
    given = FORMATS[kind](X)
    before = given.copy()
    a = fastgd.GDRegressor().fit(given, z)
    b = fastgd.GDRegressor(optimizer="exact").fit(dense.astype(given.dtype), z)
    tol = 1e-10 if given.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=tol * np.abs(b.coef_).max())
    assert (given != before).nnz == 0 and type(given) is type(before)  # the input is untouched


def test_l2_logistic_reaches_scikit_learns_objective():
    from sklearn.linear_model import LogisticRegression

    X = text_like(20_000, 300, seed=4, per_row=8)
    coef = np.random.default_rng(5).standard_normal(300)
    y = np.where(X @ coef + 0.3 * np.random.default_rng(6).standard_normal(X.shape[0]) > 0, 1, -1)
    alpha = 1e-3
    ours = fastgd.GDClassifier(penalty="l2", alpha=alpha).fit(X, y)
    theirs = LogisticRegression(C=1.0 / (alpha * X.shape[0]), tol=1e-12, max_iter=10_000).fit(X, y)
    dense = X.toarray()
    best = objective(dense, y, theirs.coef_[0], theirs.intercept_[0], "log_loss", l2=alpha)
    mine = objective(dense, y, ours.coef_, ours.intercept_, "log_loss", l2=alpha)
    assert ours.converged_ and (mine - best) / best <= 1e-8


def test_sums_do_not_depend_on_the_thread_count_or_the_serial_twin(problem):
    X, _, z, _ = problem
    big = sp.vstack([X] * 8).tocsr()  # enough rows for several runs
    y = np.sign(np.tile(z, 8))
    theta = np.random.default_rng(7).standard_normal(X.shape[1] + 1)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            total = np.zeros(X.shape[1] + 3)
            kernels.sparse_pass(CSRStore(big.data, big.indices, big.indptr), y, np.empty(0), theta, LOG_LOSS, 0.0, 1,
                             X.shape[1], np.empty(0, np.int64), total)
            results.append(total)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    serial = np.zeros(X.shape[1] + 3)
    kernels.sparse_pass_serial(CSRStore(big.data, big.indices, big.indptr), y, np.empty(0), theta, LOG_LOSS, 0.0, 1,
                            X.shape[1], np.empty(0, np.int64), serial)
    assert kernels.groups(big.shape[0], X.shape[1] + 3) > 1
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], serial)
    dense = big.toarray()
    p = dense @ theta[:-1] + theta[-1]
    r = -y / (1.0 + np.exp(y * p))
    np.testing.assert_allclose(total[:-3], dense.T @ r, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(total[-2], np.logaddexp(0.0, -y * p).sum(), rtol=1e-12)


def test_the_buffer_is_bounded_whatever_the_rows_and_features():
    from fastgd._config import SPARSE_BUFFER_BYTES

    for n, width in [(10, 5), (10**7, 10), (10**7, 2**20 + 3), (10**9, 2**24)]:
        count = kernels.groups(n, width)
        assert 1 <= count and (count == 1 or count * width * 8 <= SPARSE_BUFFER_BYTES)


def test_a_fit_never_densifies():
    X = text_like(200_000, 2000, seed=8)
    y = np.asarray(X.sum(axis=1)).ravel()
    fastgd.GDRegressor(max_iter=1, tol=None).fit(X, y)  # compile (threaded kernels too) outside the probe
    stored = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    tracemalloc.start()
    try:
        fastgd.GDRegressor(max_iter=3, tol=None).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < stored and peak < 0.01 * X.shape[0] * X.shape[1] * 8


def test_bad_sparse_input_is_named_and_untouched(problem):
    X, _, z, _ = problem
    cases = []
    nan = X.copy()
    nan.data[nan.indptr[3] + 1] = np.nan
    cases.append((nan, ValueError, rf"X contains NaN at row 3, column {nan.indices[nan.indptr[3] + 1]}; "))
    out_of_range = X.copy()
    out_of_range.indices[out_of_range.indptr[5]] = X.shape[1] + 2
    cases.append((out_of_range, ValueError, rf"X has column index {X.shape[1] + 2} at row 5, outside \[0, 60\)"))
    falling = X.copy()
    falling.indptr[10] = falling.indptr[12]
    cases.append((falling, ValueError, "indptr decreases at row 10"))
    complex_ = X.astype(np.complex128)
    cases.append((complex_, ValueError, "Complex data not supported"))
    cases.append((X[:0], ValueError, "X has 0 rows"))
    for bad, error, message in cases:
        before = bad.copy()
        with pytest.raises(error, match=message):
            fastgd.GDRegressor().fit(bad, z[: bad.shape[0]])
        assert np.array_equal(bad.data, before.data, equal_nan=True) and np.array_equal(bad.indptr, before.indptr)
    model = fastgd.GDRegressor().fit(X, z)
    with pytest.raises(ValueError, match="X has 61 features, but GDRegressor is expecting 60 features"):
        model.predict(sp.random(5, 61, format="csr"))
