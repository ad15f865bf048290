"""Answers against the seeds' worked examples and trusted solvers at the optimum."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

import fastgd

from .datasets import make_classification, make_regression
from .naive import batch_gd, objective


def assert_objective_close(value, reference, tol):
    """``value`` within ``tol`` of ``reference``, relative once it exceeds 1."""
    assert abs(value - reference) <= tol * max(1.0, abs(reference)), (value, reference)


# -- DESIGN.md section 2: plain batch GD from zeros, fixed rate, no stopping rule


def test_worked_example_with_intercept():
    X = np.array([[1.0], [2.0], [3.0]])
    y = np.array([2.0, 4.0, 6.0])
    model = fastgd.GDRegressor(optimizer="sgd", learning_rate=0.01, max_iter=1000, tol=None, standardize=False)
    model.fit(X, y)
    w, b = batch_gd(X, y, 0.01, 1000)
    assert abs(model.coef_[0] - w[0]) <= 1e-10 and abs(model.intercept_ - b) <= 1e-10
    assert model.coef_[0] == pytest.approx(1.90259238, abs=5e-9)
    assert model.intercept_ == pytest.approx(0.22143042, abs=5e-9)
    assert model.n_iter_ == 1000 and not model.converged_


def test_worked_example_duplicated_columns_are_bit_identical():
    X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([1.0, 2.0, 3.0])
    # 0.01 under the (2/m) convention is 0.02 under fastgd's 1/(2m) cost.
    model = fastgd.GDRegressor(
        optimizer="sgd", learning_rate=0.02, max_iter=1000, tol=None, fit_intercept=False, standardize=False
    ).fit(X, y)
    assert model.coef_[0] == model.coef_[1]
    np.testing.assert_allclose(model.coef_, [0.5, 0.5], rtol=0, atol=1e-10)
    assert model.intercept_ == 0.0


def test_simultaneous_update_matches_the_seeds_loop_on_random_data():
    X, y, _ = make_regression(50, 3, seed=7)
    model = fastgd.GDRegressor(optimizer="sgd", learning_rate=0.05, max_iter=200, tol=None, standardize=False)
    model.fit(X, y)
    w, b = batch_gd(X, y, 0.05, 200)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-12)
    assert model.intercept_ == pytest.approx(b, rel=1e-12)


# -- least squares, ridge, logistic, lasso, elastic net at the optimum


def test_least_squares_matches_lstsq():
    X, y, _ = make_regression(100_000, 20, seed=1, offset=0.5)
    # tol bounds the gradient (relative to the starting model's), which the
    # coefficients' error follows: 1e-9 gives about 1e-9 here.
    model = fastgd.GDRegressor(tol=1e-9).fit(X, y)
    reference, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    fitted = np.append(model.coef_, model.intercept_)
    assert model.converged_
    assert np.linalg.norm(fitted - reference) / np.linalg.norm(reference) <= 1e-8


def _diabetes():
    return load_diabetes(return_X_y=True)


def _breast_cancer_standardized():
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.mark.parametrize("alpha", [1e-3, 1e-1])
@pytest.mark.parametrize("dataset", ["generated", "diabetes"])
def test_ridge_objective_matches_sklearn(dataset, alpha):
    X, y = _diabetes() if dataset == "diabetes" else make_regression(20_000, 10, seed=2)[:2]
    model = fastgd.GDRegressor(penalty="l2", alpha=alpha).fit(X, y)
    # sklearn's Ridge minimises ||y - Xw - b||^2 + a ||w||^2: a = alpha * m.
    ridge = Ridge(alpha=alpha * len(y), solver="cholesky").fit(X, y)
    assert model.converged_
    assert_objective_close(
        objective(X, y, model.coef_, model.intercept_, l2=alpha),
        objective(X, y, ridge.coef_, ridge.intercept_, l2=alpha),
        1e-8,
    )


@pytest.mark.parametrize("alpha", [1e-3, 1e-2])
@pytest.mark.parametrize("dataset", ["generated", "breast_cancer"])
def test_logistic_objective_matches_sklearn(dataset, alpha):
    if dataset == "breast_cancer":
        X, y = _breast_cancer_standardized()
    else:
        X, y = make_classification(20_000, 10, seed=3)
    model = fastgd.GDClassifier(penalty="l2", alpha=alpha).fit(X, y)
    # sklearn minimises C * sum(log-loss) + ||w||^2 / 2: C = 1 / (alpha * m).
    reference = LogisticRegression(C=1.0 / (alpha * len(y)), tol=1e-12, max_iter=10_000)
    reference.fit(X, y)
    signs = np.where(y == model.classes_[1], 1.0, -1.0)
    assert model.converged_
    assert_objective_close(
        objective(X, signs, model.coef_, model.intercept_, "log_loss", l2=alpha),
        objective(X, signs, reference.coef_[0], reference.intercept_[0], "log_loss", l2=alpha),
        1e-8,
    )


def _sparse_regression():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20_000, 15))
    coef = np.zeros(15)
    coef[:5] = [3.0, -2.0, 1.5, 1.0, -0.5]
    return X, X @ coef + 0.7 + rng.standard_normal(20_000)


@pytest.mark.parametrize("penalty, l1_ratio", [("l1", 1.0), ("elasticnet", 0.3)])
def test_l1_and_elastic_net_match_sklearn_zero_pattern_and_objective(penalty, l1_ratio):
    X, y = _sparse_regression()
    alpha = 0.2
    model = fastgd.GDRegressor(penalty=penalty, alpha=alpha, l1_ratio=0.3).fit(X, y)
    if penalty == "l1":
        reference = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000)
    else:
        reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000)
    reference.fit(X, y)
    zeros = model.coef_ == 0.0
    assert zeros.sum() >= 8  # the penalty really zeroes most noise features
    assert np.array_equal(zeros, reference.coef_ == 0.0)
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    assert_objective_close(
        objective(X, y, model.coef_, model.intercept_, l2=l2, l1=l1),
        objective(X, y, reference.coef_, reference.intercept_, l2=l2, l1=l1),
        1e-6,
    )


# -- mini-batch and stochastic descent


@pytest.fixture(scope="module")
def large_problems():
    X, y, _ = make_regression(200_000, 10, seed=5, noise=1.0)
    Xc, yc = make_classification(200_000, 10, seed=6)
    optimum = fastgd.GDRegressor().fit(X, y)
    optimum_c = fastgd.GDClassifier().fit(Xc, yc)
    signs = np.where(yc == 1, 1.0, -1.0)
    return {
        "regression": (X, y, objective(X, y, optimum.coef_, optimum.intercept_), y),
        "classification": (
            Xc, yc,
            objective(Xc, signs, optimum_c.coef_, optimum_c.intercept_, "log_loss"),
            signs,
        ),
    }


@pytest.mark.parametrize("batch_size", [256, 1])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_minibatch_and_stochastic_reach_the_optimum(large_problems, task, batch_size):
    X, y, best, target = large_problems[task]
    cls = fastgd.GDRegressor if task == "regression" else fastgd.GDClassifier
    loss = "squared_error" if task == "regression" else "log_loss"
    first = cls(batch_size=batch_size, random_state=42).fit(X, y)
    gap = objective(X, target, first.coef_, first.intercept_, loss) - best
    assert 0 <= gap <= 1e-3 * best or abs(gap) <= 1e-12
    second = cls(batch_size=batch_size, random_state=42).fit(X, y)
    assert np.array_equal(first.coef_, second.coef_)
    assert first.intercept_ == second.intercept_


def test_shuffling_changes_the_path_and_random_state_fixes_it():
    X, y, _ = make_regression(5000, 4, seed=8)
    params = dict(batch_size=32, max_iter=3, tol=None, optimizer="sgd", learning_rate=0.01)
    a = fastgd.GDRegressor(random_state=1, **params).fit(X, y)
    b = fastgd.GDRegressor(random_state=2, **params).fit(X, y)
    c = fastgd.GDRegressor(shuffle=False, **params).fit(X, y)
    d = fastgd.GDRegressor(shuffle=False, **params).fit(X, y)
    assert not np.array_equal(a.coef_, b.coef_)
    assert np.array_equal(c.coef_, d.coef_)


# -- float32


def test_float32_input_gives_float32_accurate_answers():
    X64, y, _ = make_regression(50_000, 8, seed=9)
    X32 = X64.astype(np.float32)
    model = fastgd.GDRegressor().fit(X32, y)
    reference, *_ = np.linalg.lstsq(
        np.column_stack([X32.astype(np.float64), np.ones(len(y))]), y, rcond=None
    )
    fitted = np.append(model.coef_, model.intercept_)
    assert model.coef_.dtype == np.float64
    assert np.linalg.norm(fitted - reference) / np.linalg.norm(reference) <= 1e-6
