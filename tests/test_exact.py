"""The exact least-squares solver: one pass of sums, then the normal equations."""

import warnings

import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

import fastgd
from fastgd.kernels import sparse as kernels
from fastgd.kernels.rowstore import CSRStore

from .naive import objective

sp = pytest.importorskip("scipy.sparse")


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X * 100.0 + 50.0, y  # off-centre columns: the centring must keep its digits


def _relative(a, b):
    return np.abs(np.asarray(a) - b).max() / max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("alpha", [0.0, 1e-4, 1e-1])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_lstsq_and_ridge(diabetes, alpha, weighted):
    X, y = diabetes
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    model = fastgd.GDRegressor(optimizer="exact", penalty="l2" if alpha else None, alpha=alpha).fit(X, y, sample_weight=w)
    assert model.n_iter_ == 1 and model.converged_ and model.stop_reason_ == "converged"
    s = np.ones(len(y)) if w is None else w
    # fastgd's objective, sum(s r**2) / (2 sum(s)) + alpha/2 |w|**2, is Ridge's with alpha * sum(s).
    if alpha:
        reference = Ridge(alpha=alpha * s.sum(), solver="cholesky").fit(X, y, sample_weight=w)
        coef, intercept = reference.coef_, reference.intercept_
    else:
        root = np.sqrt(s)
        solution = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]) * root[:, None], y * root, rcond=None)[0]
        coef, intercept = solution[:-1], solution[-1]
    assert _relative(model.coef_, coef) < 1e-10
    assert abs(model.intercept_ - intercept) < 1e-10 * max(1.0, abs(intercept))


def test_without_intercept_and_unstandardized(diabetes):
    X, y = diabetes
    for standardize in (True, False):
        model = fastgd.GDRegressor(optimizer="exact", fit_intercept=False, standardize=standardize).fit(X, y)
        assert model.intercept_ == 0.0
        assert _relative(model.coef_, np.linalg.lstsq(X, y, rcond=None)[0]) < 1e-10


def test_sparse_rows_and_one_hot_columns_without_a_penalty():
    """Categories and an intercept add up: least norm in standardized
    coordinates, the optimum objective all the same."""
    rng = np.random.default_rng(3)
    n = 3000
    kind = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n) * 10 + 100
    y = 0.5 * x + np.select([kind == "a", kind == "b"], [1.0, -2.0], 4.0) + rng.normal(size=n)
    table = pa.table({"x": x, "kind": kind})
    design = np.column_stack([x, kind == "a", kind == "b", kind == "c"]).astype(float)
    best = np.linalg.lstsq(np.column_stack([design, np.ones(n)]), y, rcond=None)[0]
    f_best = objective(design, y, best[:-1], best[-1])
    for data in (table, sp.csr_matrix(design), design):
        model = fastgd.GDRegressor(optimizer="exact").fit(data, y)
        assert model.converged_
        assert abs(objective(design, y, model.coef_, model.intercept_) - f_best) <= 1e-12 * f_best
    ridge = [fastgd.GDRegressor(optimizer="exact", penalty="l2", alpha=1e-3).fit(data, y)
             for data in (table, sp.csr_matrix(design), design)]
    for model in ridge[1:]:
        assert _relative(model.coef_, ridge[0].coef_) < 1e-10


def test_auto_takes_it_for_least_squares_within_its_bounds():
    from fastgd.solvers.exact import AUTO_DENSE_GRAM_MAX

    rng = np.random.default_rng(4)
    table = pa.table({"x": rng.normal(size=500), "kind": rng.choice(["a", "b"], 500)})
    y = rng.normal(size=500)
    assert fastgd.GDRegressor().fit(table, y).n_iter_ == 1
    assert fastgd.GDRegressor(penalty="l1", alpha=0.01).fit(table, y).n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A given rate asks for descent; so do other losses.
        assert fastgd.GDRegressor(penalty="l1", alpha=0.01, learning_rate=0.01).fit(table, y).n_iter_ > 1
        assert fastgd.GDRegressor(loss="huber").fit(table, y).n_iter_ > 1
        assert fastgd.GDClassifier().fit(table, y > 0).n_iter_ > 1
    # Dense rows: up to AUTO_DENSE_GRAM_MAX features, where the pass is cheaper than descent.
    narrow = rng.normal(size=(600, AUTO_DENSE_GRAM_MAX))
    wide = rng.normal(size=(600, AUTO_DENSE_GRAM_MAX + 1))
    target = rng.normal(size=600)
    assert fastgd.GDRegressor(penalty="l2", alpha=1.0).fit(narrow, target).n_iter_ == 1
    assert fastgd.GDRegressor(penalty="l2", alpha=1.0).fit(wide, target).n_iter_ > 1
    # partial_fit continues by L-BFGS epochs: the exact solve is of one call's rows.
    model = fastgd.GDRegressor(optimizer="exact")
    model.partial_fit(table, y)
    assert model.n_iter_ == 1 and np.all(np.isfinite(model.coef_))


def test_refusals(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="optimizer='exact' solves least squares"):
        fastgd.GDRegressor(optimizer="exact", loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="needs full-batch descent"):
        fastgd.GDRegressor(optimizer="exact", batch_size=10).fit(X, y)
    wide = sp.random(50, 3000, density=0.01, format="csr", random_state=0)
    with pytest.raises(ValueError, match="at most 2048 features; this fit has .* and 3000 features"):
        fastgd.GDRegressor(optimizer="exact").fit(wide, np.ones(50))


def test_one_pass_over_parquet_and_dask_equals_arrays(diabetes, tmp_path):
    da = pytest.importorskip("dask.array")
    X, y = diabetes
    expected = fastgd.GDRegressor(optimizer="exact", penalty="l2", alpha=1e-3).fit(X, y)
    table = pa.table({f"x{j}": X[:, j] for j in range(X.shape[1])} | {"y": y})
    directory = tmp_path / "parts"
    directory.mkdir()
    pq.write_table(table.slice(0, 200), directory / "a.parquet", row_group_size=64)
    pq.write_table(table.slice(200), directory / "b.parquet", row_group_size=64)
    for data in (fastgd.open_dataset(directory, target="y"), fastgd.open_dataset(da.from_array(X, chunks=(100, 10)), target=y)):
        model = fastgd.GDRegressor(optimizer="exact", penalty="l2", alpha=1e-3).fit(data)
        assert _relative(model.coef_, expected.coef_) < 1e-10


def test_gram_sums_do_not_depend_on_the_thread_count():
    X = sp.random(20_000, 40, density=0.2, format="csr", random_state=1)
    y = np.random.default_rng(2).normal(size=X.shape[0])
    store = CSRStore(X.data, X.indices, X.indptr)
    shift, rows = np.zeros(40), np.empty(0, np.int64)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            total = np.zeros((42, 42))
            kernels.sparse_gram(store, y, np.empty(0), shift, rows, total)
            results.append(total)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    serial = np.zeros((42, 42))
    kernels.sparse_gram_serial(store, y, np.empty(0), shift, rows, serial)
    assert kernels.groups(X.shape[0], 42 * 42) > 1
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], serial)
    dense = X.toarray()
    np.testing.assert_allclose(results[0][:40, :40], dense.T @ dense, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("at", ["start", "solution", "anywhere"])
def test_the_sums_from_the_gram_matrix_equal_a_pass(diabetes, standardize, at):
    """The exact solver measures ``tol``'s reference and its solution from its own sums, without a pass."""
    from fastgd.estimators.settings import settings
    from fastgd.solvers.exact import Exact, solution

    X, y = diabetes
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, len(y))
    for data in (X, sp.csr_matrix(np.where(X > 55, X, 0.0))):
        estimator = fastgd.GDRegressor(optimizer="exact", penalty="l2", alpha=1e-3, standardize=standardize)
        fit = settings(estimator)
        source = fastgd.open_dataset(data, target=y, weight=w).source.with_target(lambda v: v)
        problem = estimator._problem(source, fit, None)
        solver = Exact(problem, fit.options)
        theta = np.zeros(problem.n_params)
        theta[-1] = np.average(y, weights=w)
        if at == "solution":  # the loss is smallest here, so its rounding largest
            G, shift = solver.gram()
            theta = problem.from_data_units(solution(problem, G.copy(), shift))
        elif at == "anywhere":
            theta = rng.normal(size=problem.n_params) * np.r_[np.full(problem.n_features, 0.3), 100.0]
        expected = problem.sums(theta)
        got = solver.sums_at_start(theta)
        scale = np.abs(expected[:-2]).max() if at != "solution" else np.abs(problem.sums(0 * theta)[:-2]).max()
        np.testing.assert_allclose(got[:-2], expected[:-2], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(got[-2:], expected[-2:], rtol=1e-12)


def test_a_fit_reads_the_data_once(diabetes, monkeypatch):
    """One pass of Gram sums, and the solution measured from them: no pass of gradient sums."""
    from fastgd import problem
    from fastgd.solvers import exact

    X, y = diabetes
    calls = {"add_gram": 0, "add_sums": 0}
    for module, name in ((exact, "add_gram"), (problem, "add_sums")):
        def counted(*args, _name=name, _kernel=getattr(module, name)):
            calls[_name] += 1
            return _kernel(*args)
        monkeypatch.setattr(module, name, counted)
    model = fastgd.GDRegressor(optimizer="exact", penalty="l2", alpha=1e-3, standardize=False).fit(X, y)
    assert model.converged_ and model.n_iter_ == 1
    assert calls == {"add_gram": 1, "add_sums": 0}
    expected = Ridge(alpha=1e-3 * len(y), solver="cholesky").fit(X, y)
    assert _relative(model.coef_, expected.coef_) < 1e-10


def _enet_objective(X, y, coef, intercept, alpha, l1_ratio):
    """scikit-learn's ElasticNet objective, which is fastgd's with ``alpha`` split by ``l1_ratio``."""
    residual = y - X @ coef - intercept
    return (0.5 * np.mean(residual**2) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1.0 - l1_ratio) * coef @ coef)


@pytest.mark.parametrize("alpha, l1_ratio", [(1e-3, 1.0), (0.5, 1.0), (0.05, 0.5), (2.0, 0.15)])
def test_lasso_and_elastic_net_on_the_gram_matrix_reach_scikit_learn(diabetes, tmp_path, alpha, l1_ratio):
    """Coordinate descent on the one-pass Gram matrix: scikit-learn's optimum to 1e-8, on arrays, Parquet and Dask."""
    from sklearn.linear_model import ElasticNet

    da = pytest.importorskip("dask.array")
    X, y = diabetes
    reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-15, max_iter=1_000_000).fit(X, y)
    best = _enet_objective(X, y, reference.coef_, reference.intercept_, alpha, l1_ratio)
    table = pa.table({f"x{j}": X[:, j] for j in range(X.shape[1])} | {"y": y})
    directory = tmp_path / "parts"
    directory.mkdir()
    pq.write_table(table.slice(0, 250), directory / "a.parquet", row_group_size=50)
    pq.write_table(table.slice(250), directory / "b.parquet", row_group_size=50)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    sources = (X, fastgd.open_dataset(directory, target="y"), fastgd.open_dataset(da.from_array(X, chunks=(90, 10)), target=y))
    for data in sources:
        model = fastgd.GDRegressor(optimizer="exact", penalty=penalty, alpha=alpha, l1_ratio=l1_ratio)
        model.fit(data, y) if data is X else model.fit(data)
        assert model.n_iter_ == 1 and model.converged_
        got = _enet_objective(X, y, model.coef_, model.intercept_, alpha, l1_ratio)
        assert (got - best) / best < 1e-8
        # the same zeros as scikit-learn (its tiny coefficients excepted)
        clear = np.abs(reference.coef_) > 1e-6 * np.abs(reference.coef_).max()
        assert np.array_equal(model.coef_[clear] != 0, reference.coef_[clear] != 0)
        assert np.all(model.coef_[reference.coef_ == 0] == 0)


def test_partial_fit_with_l1_continues_by_fista(diabetes):
    """``partial_fit`` under optimizer="exact" and an L1 penalty descends (FISTA epochs at the automatic rate)."""
    X, y = diabetes
    model = fastgd.GDRegressor(optimizer="exact", penalty="l1", alpha=0.5)
    objectives = []
    for _ in range(4):
        model.partial_fit(X, y)
        objectives.append(_enet_objective(X, y, model.coef_, model.intercept_, 0.5, 1.0))
    assert np.all(np.diff(objectives) <= 1e-12 * objectives[0]) and objectives[-1] < objectives[0]
    assert model.learning_rate_ < 1.0  # measured, not the exact solver's placeholder


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_gram_does_not_depend_on_the_thread_count(dtype):
    from fastgd.kernels import gram

    rng = np.random.default_rng(3)
    X = (rng.normal(size=(30_000, 13)) * 10 + 100).astype(dtype)
    y = rng.normal(size=X.shape[0])
    w = rng.uniform(0.0, 2.0, X.shape[0])
    shift = X[0].astype(np.float64)
    rows = rng.permutation(X.shape[0])[:20_000]
    assert gram.runs(len(rows), 16) > 1
    for weights, idx in ((np.empty(0), np.empty(0, np.int64)), (w, rows)):
        results = []
        for threads in (1, 2, 3, 8):
            total = np.zeros((15, 15))
            gram.dense_gram(X, y, weights, shift, idx, total, threads)
            results.append(total)
        assert all(np.array_equal(results[0], other) for other in results[1:])
        take = idx if len(idx) else slice(None)
        Z = np.column_stack([X[take].astype(np.float64) - shift, np.ones(len(y[take])), y[take]])
        s = weights[take] if len(weights) else np.ones(len(Z))
        expected = Z.T @ (s[:, None] * Z)
        np.testing.assert_allclose(results[0], expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_blas_gram_fold_equals_the_compiled_one(dtype):
    from fastgd.data.base import Block
    from fastgd.passes import add_gram, add_gram_blas

    rng = np.random.default_rng(9)
    X = (rng.normal(size=(5_000, 7)) * 10 + 100).astype(dtype)
    y = rng.normal(size=X.shape[0])
    shift = X[0].astype(np.float64)
    for weights in (np.empty(0), rng.uniform(0.0, 2.0, X.shape[0])):
        for rows in (np.empty(0, np.int64), np.sort(rng.permutation(X.shape[0])[:3_000])):
            block = Block(0, X, y, weights, rows)
            expected = add_gram(block, np.zeros((9, 9)), shift)
            total = add_gram_blas(block, np.zeros((9, 9)), shift)
            np.testing.assert_allclose(total, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_gram_equals_the_row_gram_bit_for_bit(dtype):
    """Tiles filled from columns (Arrow, Parquet) hold the values tiles filled from rows do."""
    from fastgd.kernels import gram

    rng = np.random.default_rng(5)
    X = (rng.normal(size=(25_000, 13)) * 10 + 100).astype(dtype)
    y = rng.normal(size=X.shape[0])
    w = rng.uniform(0.0, 2.0, X.shape[0])
    shift = X[0].astype(np.float64)
    columns = [np.ascontiguousarray(X[:, j]) for j in range(X.shape[1])]
    addresses = np.array([c.ctypes.data for c in columns], np.int64)
    for weights in (np.empty(0), w):
        expected = np.zeros((15, 15))
        gram.dense_gram(X, y, weights, shift, np.empty(0, np.int64), expected, 1)
        for threads in (1, 2, 3):
            total = np.zeros((15, 15))
            gram.column_gram(addresses, np.empty(0, dtype), X.shape[0], y, weights, shift, total, threads)
            assert np.array_equal(total, expected)


def test_a_parquet_fit_sums_its_columns_without_a_row_copy(diabetes, tmp_path, monkeypatch):
    from fastgd import passes
    from fastgd.data import arrow

    X, y = diabetes
    pq.write_table(pa.table({f"x{j}": X[:, j] for j in range(X.shape[1])} | {"y": y}), tmp_path / "d.parquet",
                   row_group_size=100)
    calls = []
    monkeypatch.setattr(passes, "column_gram", lambda *a, _k=passes.column_gram: calls.append(a[2]) or _k(*a))
    copied = []
    monkeypatch.setattr(arrow, "rows_from_columns", lambda *a, _k=arrow.rows_from_columns: copied.append(a[2].shape[0]) or _k(*a))
    model = fastgd.GDRegressor(optimizer="exact", penalty=None).fit(fastgd.open_dataset(tmp_path / "d.parquet", target="y"))
    assert sum(calls) == len(y) and model.converged_
    assert copied == [1]  # the first row, the shift of the centred sums
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    assert _relative(np.r_[model.coef_, model.intercept_], expected) < 1e-10


def test_the_solve_leaves_the_blas_threads_as_it_found_them(diabetes):
    """The solve runs BLAS on one thread (see fastgd._blas), and restores the count, also under concurrent fits."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    from fastgd import _blas

    def counts():
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    X, y = diabetes
    fastgd.GDRegressor(optimizer="exact").fit(X, y)  # loads scipy's BLAS too
    before = counts()
    with _blas.one_thread(10):
        assert set(counts()) == {1}
        with _blas.one_thread(10):
            assert set(counts()) == {1}
        assert set(counts()) == {1}
    assert counts() == before
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda k: fastgd.GDRegressor(optimizer="exact", alpha=10.0**-k).fit(X, y), range(16)))
    assert counts() == before and all(model.converged_ for model in models)
