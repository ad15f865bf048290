"""Every loss: its derivative, and its optimum against a trusted solver."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import logsumexp
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression, PoissonRegressor

import fastgd
from fastgd import kernels


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from([kernels.HUBER, kernels.POISSON, kernels.HINGE]),
    p=st.floats(-8, 8),
    y=st.floats(0, 20),
    epsilon=st.floats(0.1, 3),
)
def test_new_losses_derivatives_match_central_differences(code, p, y, epsilon):
    if code == kernels.HINGE:
        y = 1.0 if y >= 10 else -1.0
        if abs(y * p - 1.0) < 1e-4:
            return  # the kink, where no derivative exists
    if code == kernels.HUBER and abs(abs(p - y) - epsilon) < 1e-4:
        return  # continuous derivative, but not differentiable twice there
    h = 1e-6
    value, derivative = kernels.loss_grad(code, p, y, epsilon)
    central = (kernels.loss_grad(code, p + h, y, epsilon)[0] - kernels.loss_grad(code, p - h, y, epsilon)[0]) / (2 * h)
    assert derivative == pytest.approx(central, rel=1e-5, abs=1e-6)
    expected = {
        kernels.HUBER: 0.5 * (p - y) ** 2 if abs(p - y) <= epsilon else epsilon * (abs(p - y) - epsilon / 2),
        kernels.POISSON: np.exp(p) - y * p,
        kernels.HINGE: max(0.0, 1.0 - y * p),
    }[code]
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    logits=st.lists(st.floats(-30, 30), min_size=2, max_size=6),
    label=st.integers(0, 5),
)
def test_softmax_cross_entropy_gradient_matches_central_differences(logits, label):
    p = np.array(logits)
    label = label % len(p)
    r = np.empty_like(p)
    value = kernels.softmax_loss_grad(p, label, r)
    assert value == pytest.approx(logsumexp(p) - p[label], rel=1e-12, abs=1e-12)
    h = 1e-6
    for k in range(len(p)):
        e = np.zeros_like(p)
        e[k] = h
        scratch = np.empty_like(p)
        central = (kernels.softmax_loss_grad(p + e, label, scratch) - kernels.softmax_loss_grad(p - e, label, scratch)) / (2 * h)
        assert r[k] == pytest.approx(central, rel=1e-5, abs=1e-7)


def multinomial_objective(X, y, coef, intercept, alpha):
    logits = X @ coef.T + intercept
    return np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]) + 0.5 * alpha * np.sum(coef**2)


@pytest.mark.parametrize("dataset", ["iris", "digits"])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3])
def test_multinomial_matches_sklearn(dataset, alpha):
    X, y = (load_iris if dataset == "iris" else load_digits)(return_X_y=True)
    if dataset == "digits":
        X = X / 16.0  # pixel intensities in [0, 1]: lbfgs is 15x slower on raw 0..16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastgd.GDClassifier(penalty="l2", alpha=alpha, standardize=True, max_iter=10_000).fit(X, y)
    flat = "column 0, column 32, column 39" if dataset == "digits" else None
    assert [str(w.message) for w in caught] == (
        [f"3 feature(s) have zero variance: {flat}; their coefficients are fixed at 0"] if flat else []
    )
    # sklearn minimises C * sum(cross-entropy) + ||W||^2 / 2: C = 1 / (alpha * m).
    reference = LogisticRegression(C=1 / (alpha * len(y)), tol=1e-12, max_iter=100_000).fit(X, y)
    assert model.coef_.shape == (len(np.unique(y)), X.shape[1]) and model.intercept_.shape == (len(np.unique(y)),)
    assert model.converged_
    ours = multinomial_objective(X, y, model.coef_, model.intercept_, alpha)
    theirs = multinomial_objective(X, y, reference.coef_, reference.intercept_, alpha)
    assert abs(ours - theirs) <= 1e-6
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(proba, axis=1)])
    assert model.score(X, y) > 0.9


def test_multinomial_with_string_labels_and_minibatches():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    # Setosa is separable: without a penalty the optimum lies at infinity.
    model = fastgd.GDClassifier(batch_size=16, penalty="l2", alpha=1e-3, standardize=True, random_state=0)
    # Weak curvature (alpha=1e-3) makes small batches crawl: the fit says so.
    with pytest.warns(fastgd.ConvergenceWarning, match="still falling: raise max_iter"):
        model.fit(X, names)
    assert not model.converged_ and model.stop_reason_ == "max_iter"
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.score(X, names) > 0.9


@pytest.mark.parametrize("alpha", [1e-2, 1e-4])
def test_poisson_matches_sklearn(alpha):
    rng = np.random.default_rng(61)
    X = rng.standard_normal((5000, 5))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1, 0.0, 0.4] + 1.0))
    model = fastgd.GDRegressor(loss="poisson", penalty="l2", alpha=alpha).fit(X, y)
    reference = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y)

    def objective(coef, intercept):
        p = X @ coef + intercept
        return np.mean(np.exp(p) - y * p) + 0.5 * alpha * coef @ coef

    assert model.converged_
    assert abs(objective(model.coef_, model.intercept_) - objective(reference.coef_, reference.intercept_)) <= 1e-6
    np.testing.assert_allclose(model.predict(X), np.exp(X @ model.coef_ + model.intercept_))


def test_poisson_rejects_negative_targets():
    with pytest.raises(ValueError, match="loss='poisson' needs non-negative targets; y has -1.0"):
        fastgd.GDRegressor(loss="poisson").fit(np.eye(3), [1.0, -1.0, 2.0])


@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_huber_matches_lbfgs_on_the_same_objective(alpha):
    rng = np.random.default_rng(62)
    X = rng.standard_normal((5000, 5))
    y = X @ [1.0, 2.0, -1.0, 0.5, 0.0] + 0.3 + rng.standard_t(2, 5000)
    epsilon = 1.35

    def objective(theta):
        r = X @ theta[:5] + theta[5] - y
        a = np.abs(r)
        terms = np.where(a <= epsilon, 0.5 * r * r, epsilon * (a - 0.5 * epsilon))
        return terms.mean() + 0.5 * alpha * theta[:5] @ theta[:5]

    def gradient(theta):
        g = np.clip(X @ theta[:5] + theta[5] - y, -epsilon, epsilon) / len(y)
        return np.r_[X.T @ g + alpha * theta[:5], g.sum()]

    model = fastgd.GDRegressor(loss="huber", epsilon=epsilon, penalty="l2", alpha=alpha).fit(X, y)
    reference = minimize(objective, np.zeros(6), jac=gradient, method="L-BFGS-B", options=dict(ftol=1e-15, gtol=1e-12, maxiter=10_000))
    assert abs(objective(np.r_[model.coef_, model.intercept_]) - reference.fun) <= 1e-6
    squared = fastgd.GDRegressor().fit(X, y)
    truth = np.array([1.0, 2.0, -1.0, 0.5, 0.0])
    assert np.abs(model.coef_ - truth).max() < np.abs(squared.coef_ - truth).max()  # robust to heavy tails


def test_hinge_is_a_linear_svm():
    rng = np.random.default_rng(63)
    X = rng.standard_normal((3000, 4))
    y = np.where(X @ [1.0, -1.0, 0.5, 2.0] + 0.2 * rng.standard_normal(3000) > 0, "pos", "neg")
    for batch_size in (None, 64):
        model = fastgd.GDClassifier(loss="hinge", penalty="l2", alpha=1e-3, batch_size=batch_size, random_state=0).fit(X, y)
        signs = np.where(y == "pos", 1.0, -1.0)
        value = np.mean(np.maximum(0, 1 - signs * model.decision_function(X))) + 0.5e-3 * model.coef_ @ model.coef_
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=1 / (1e-3 * len(y)), loss="hinge", tol=1e-10, max_iter=1_000_000).fit(X, y)
        reference = np.mean(np.maximum(0, 1 - signs * svm.decision_function(X))) + 0.5e-3 * svm.coef_[0] @ svm.coef_[0]
        # Subgradient descent on a kink: accurate to a few parts in 1e3.
        assert value <= reference * (1 + 3e-3)
        assert model.score(X, y) > 0.95
    with pytest.raises(AttributeError, match="probabilities are not available for loss='hinge'"):
        model.predict_proba(X)


@pytest.mark.parametrize("loss", ["squared_error", "huber", "poisson", "log_loss", "hinge", "softmax"])
def test_the_start_objective_of_zero_weights_needs_only_the_targets(loss):
    import dask.array as da
    import scipy.sparse as sp

    from fastgd import losses as loss_table
    from fastgd.data import ArraySource
    from fastgd.data.dask import dask_arrays
    from fastgd.data.sparse import SparseSource
    from fastgd.data.subset import split
    from fastgd.problem import Problem

    rng = np.random.default_rng(12)
    X = rng.standard_normal((2000, 5))
    z = X @ rng.standard_normal(5)
    y = {"poisson": rng.poisson(np.exp(z / 4)).astype(float), "log_loss": np.sign(z), "hinge": np.sign(z),
         "softmax": np.digitize(z, [-1.0, 1.0]).astype(float)}.get(loss, z)
    w = rng.uniform(0.5, 2.0, 2000)
    n_out = 3 if loss == "softmax" else 1
    sources = [ArraySource(X, y=y, w=w), SparseSource(sp.csr_matrix(X), y, w),
               dask_arrays(da.from_array(X, chunks=(500, 5)), y, w).with_target(lambda v: v)]
    sources.append(split(sources[0], 0.2, 3)[1])  # held-out rows of a subset
    theta = np.zeros(n_out * 6)
    theta[5::6] = rng.standard_normal(n_out)  # intercepts only
    for source in sources:
        chosen = loss_table.MULTINOMIAL if loss == "softmax" else loss_table.REGISTRY[loss]
        problem = Problem(source=source, loss=chosen, loss_param=1.0, n_out=n_out, l2=0.3)
        expected = problem.objective(problem.sums(theta), theta)
        assert abs(problem.start_objective(theta) - expected) <= 1e-13 * abs(expected)
    theta[0] = 0.5  # a weight: one pass, as before
    assert problem.start_objective(theta) == problem.objective(problem.sums(theta), theta)
