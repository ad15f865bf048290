"""Update rules, step sizes, schedules and standardization."""

import math
import warnings

import numpy as np
import pytest

import fastgd

from .naive import minibatch_path, objective

OPTIMIZERS = ["sgd", "asgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.fixture(scope="module")
def conditioned():
    """A least-squares problem as it is, and with feature scales spread over 1e4."""
    rng = np.random.default_rng(51)
    n, d = 20_000, 10
    Z = rng.standard_normal((n, d))
    y = Z @ rng.standard_normal(d) + 0.5 + 0.5 * rng.standard_normal(n)
    problems = {}
    for name, X in (("well", Z), ("ill", Z * np.logspace(-2, 2, d))):
        X1 = np.column_stack([X, np.ones(n)])
        exact, *_ = np.linalg.lstsq(X1, y, rcond=None)
        problems[name] = (X, y, objective(X, y, exact[:-1], exact[-1]))
    return problems


def relative_gap(model, X, y, best):
    return (objective(X, y, model.coef_, model.intercept_) - best) / best


MODES = [(o, None) for o in OPTIMIZERS + ["accelerated", "lbfgs"]] + [(o, 256) for o in OPTIMIZERS]


@pytest.mark.parametrize("optimizer, batch_size", MODES)
@pytest.mark.parametrize("conditioning", ["well", "ill"])
def test_every_optimizer_reaches_the_optimum(conditioned, conditioning, optimizer, batch_size):
    X, y, best = conditioned[conditioning]
    model = fastgd.GDRegressor(
        optimizer=optimizer, batch_size=batch_size, standardize=conditioning == "ill", random_state=0
    ).fit(X, y)
    assert model.converged_
    assert relative_gap(model, X, y, best) <= 1e-4


def test_standardized_defaults_beat_plain_sgd_at_its_best_fixed_rate(conditioned):
    X, y, best = conditioned["ill"]
    model = fastgd.GDRegressor(standardize=True).fit(X, y)
    assert model.n_iter_ < 200 and relative_gap(model, X, y, best) <= 1e-8
    gaps = {}
    for batch_size in (None, 256):
        for rate in np.logspace(-9, -1, 17):
            plain = fastgd.GDRegressor(
                optimizer="sgd", learning_rate=rate, batch_size=batch_size, max_iter=200, tol=None,
                random_state=0, standardize=False,
            )
            try:
                gaps[batch_size, rate] = relative_gap(plain.fit(X, y), X, y, best)
            except fastgd.DivergenceError:
                gaps[batch_size, rate] = math.inf
    best_rate = min(gaps, key=gaps.get)
    # The grid reaches rates that diverge, so its best is the best fixed rate.
    assert math.isinf(max(gaps.values()))
    assert gaps[best_rate] > 1e-2, (best_rate, gaps[best_rate])


@pytest.mark.parametrize("rule", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_update_rules_follow_their_textbook_formulas(rule):
    rng = np.random.default_rng(52)
    X = rng.standard_normal((400, 3))
    y = X @ [1.0, -1.0, 2.0] + 0.2 * rng.standard_normal(400)
    params = dict(momentum=0.8, beta1=0.85, beta2=0.99, eps=1e-6)
    model = fastgd.GDRegressor(
        optimizer=rule, batch_size=50, shuffle=False, learning_rate=0.05, max_iter=3, tol=None,
        schedule="constant", standardize=False, **params,
    ).fit(X, y)
    theta = minibatch_path(X, y, rule, 0.05, 3, 50, **params)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), theta, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "schedule, rate",
    [
        ("invscaling", lambda t, epoch: 0.1 / t**0.3),
        ("exponential", lambda t, epoch: 0.1 * 0.7 ** (epoch - 1)),
        ("cosine", lambda t, epoch: 0.1 * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / 4))),
    ],
)
def test_schedules_follow_their_formulas(schedule, rate):
    rng = np.random.default_rng(53)
    X = rng.standard_normal((300, 2))
    y = X @ [2.0, 1.0] + 0.1 * rng.standard_normal(300)
    model = fastgd.GDRegressor(
        optimizer="sgd", batch_size=60, shuffle=False, learning_rate=0.1, schedule=schedule,
        power_t=0.3, lr_decay=0.7, max_iter=4, tol=None, standardize=False,
    ).fit(X, y)
    theta = minibatch_path(X, y, "sgd", 0.1, 4, 60, rate=rate)
    np.testing.assert_allclose(np.append(model.coef_, model.intercept_), theta, rtol=1e-12)


def test_plateau_schedule_cuts_the_rate_when_the_objective_stalls(conditioned):
    X, y, best = conditioned["well"]
    common = dict(optimizer="sgd", batch_size=256, learning_rate=0.05, random_state=0, standardize=False, tol=1e-5)
    model = fastgd.GDRegressor(schedule="plateau", plateau_factor=0.25, **common).fit(X, y)
    with pytest.warns(fastgd.ConvergenceWarning, match="a constant rate keeps the mini-batch noise: schedule='plateau'"):
        constant = fastgd.GDRegressor(schedule="constant", **common).fit(X, y)
    assert model.learning_rate_ <= 0.05 * 0.25**2  # cut at least twice
    assert relative_gap(model, X, y, best) < 0.1 * relative_gap(constant, X, y, best)


def test_line_search_needs_fewer_epochs_and_never_raises_the_objective():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    params = dict(penalty="l2", alpha=1e-3, standardize=True, max_iter=20_000, optimizer="accelerated")
    plain = fastgd.GDClassifier(**params).fit(X, y)
    searched = fastgd.GDClassifier(line_search=True, **params).fit(X, y)
    from sklearn.linear_model import LogisticRegression

    exact = LogisticRegression(C=1 / (1e-3 * len(y)), tol=1e-12, max_iter=100_000).fit(X, y)
    signs = np.where(y == 1, 1.0, -1.0)
    best = objective(X, signs, exact.coef_[0], exact.intercept_[0], "log_loss", l2=1e-3)
    values = [
        objective(X, signs, m.coef_, m.intercept_, "log_loss", l2=1e-3) for m in (plain, searched)
    ]
    # On these unscaled features lbfgs stops a little short: the searched fit
    # ends lowest, the plain one within the accuracy its tol promises.
    assert values[1] <= best and values[1] <= values[0]
    assert values[0] - values[1] <= 1e-8
    # The logistic curvature bound 1/4 is far above the curvature near the
    # optimum: backtracking finds much longer steps.
    assert searched.learning_rate_ > 10 * plain.learning_rate_
    assert 2 * searched.n_iter_ < plain.n_iter_
    assert np.all(np.diff(searched.loss_history_) <= 1e-12 * searched.loss_history_[0])


def test_standardize_changes_the_path_not_the_answer():
    rng = np.random.default_rng(54)
    X = rng.standard_normal((3000, 5)) * [1e-2, 1.0, 10.0, 1e2, 3.0] + [5.0, 0.0, -3.0, 100.0, 1.0]
    y = X @ [30.0, 1.0, 0.1, 0.01, -1.0] + rng.standard_normal(3000)
    for penalty in ("l2", "l1", "elasticnet"):
        params = dict(penalty=penalty, alpha=0.05, line_search=True, tol=0)
        standardized = fastgd.GDRegressor(standardize=True, **params).fit(X, y)
        reference = fastgd.GDRegressor(standardize=False, max_iter=100_000, **params).fit(X, y)
        l1 = 0.05 * {"l2": 0.0, "l1": 1.0, "elasticnet": 0.15}[penalty]
        values = [
            objective(X, y, m.coef_, m.intercept_, l2=0.05 - l1, l1=l1) for m in (standardized, reference)
        ]
        assert values[0] <= values[1] + 1e-9 * values[1]
        np.testing.assert_array_equal(standardized.coef_ == 0, reference.coef_ == 0)
    np.testing.assert_allclose(standardized.feature_mean_, X.mean(axis=0))
    np.testing.assert_allclose(standardized.feature_scale_, X.std(axis=0))
    np.testing.assert_allclose(standardized.predict(X), X @ standardized.coef_ + standardized.intercept_)


def test_zero_variance_columns_get_zero_coefficients_and_a_warning():
    rng = np.random.default_rng(55)
    X = np.column_stack([rng.standard_normal(500), np.full(500, 3.0), rng.standard_normal(500)])
    y = X[:, 0] - X[:, 2] + 1.0
    with pytest.warns(fastgd.DataWarning, match=r"1 feature\(s\) have zero variance: column 1"):
        model = fastgd.GDRegressor(standardize=True, tol=1e-10).fit(X, y)
    assert model.coef_[1] == 0.0
    np.testing.assert_allclose(model.coef_[[0, 2]], [1.0, -1.0], atol=1e-8)
    assert model.intercept_ == pytest.approx(1.0, abs=1e-8)
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "flat", "c"])
    with pytest.warns(fastgd.DataWarning, match="zero variance: 'flat'"):
        fastgd.GDRegressor(standardize=True, batch_size=32, max_iter=2, tol=None).fit(frame, y)


@pytest.mark.parametrize("size", [1e-12, 1e-150])
@pytest.mark.parametrize("params", [{}, {"optimizer": "lbfgs"}, {"batch_size": 32}])
def test_a_column_of_tiny_values_is_a_feature_not_a_constant(size, params):
    """Constancy is relative to a column's magnitude: values near 1e-12 vary as much as values near 1."""
    import warnings

    rng = np.random.default_rng(57)
    X = rng.standard_normal((300, 2))
    y = X[:, 0] + X[:, 1]
    X[:, 1] *= size
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastgd.DataWarning)
        model = fastgd.GDRegressor(random_state=0, **params).fit(X, y)
    np.testing.assert_allclose(model.coef_ * [1.0, size], [1.0, 1.0], rtol=1e-3)


def test_standardize_without_intercept_scales_but_does_not_centre():
    rng = np.random.default_rng(56)
    X = rng.standard_normal((2000, 3)) * [0.01, 1.0, 100.0] + 2.0
    y = X @ [10.0, 1.0, 0.01] + 0.1 * rng.standard_normal(2000)
    model = fastgd.GDRegressor(standardize=True, fit_intercept=False, tol=1e-10).fit(X, y)
    reference, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert model.intercept_ == 0.0
    np.testing.assert_allclose(model.feature_mean_, 0.0)
    np.testing.assert_allclose(model.coef_, reference, rtol=1e-6)


def test_automatic_rates_need_no_tuning_for_adaptive_and_momentum_rules_on_big_targets():
    rng = np.random.default_rng(57)
    X = rng.standard_normal((5000, 4))
    y = 1e4 * (X @ [1.0, 2.0, -3.0, 0.5]) + 1e5
    for optimizer in ("adam", "rmsprop", "momentum"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastgd.ConvergenceWarning)
            model = fastgd.GDRegressor(optimizer=optimizer, batch_size=64, random_state=0, tol=1e-4).fit(X, y)
        np.testing.assert_allclose(model.coef_, 1e4 * np.array([1.0, 2.0, -3.0, 0.5]), rtol=1e-3)


def test_lbfgs_reaches_the_optimum_in_fewer_passes_than_acceleration():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(penalty="l2", alpha=1e-3, standardize=True, max_iter=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastgd.DataWarning)
        lbfgs = fastgd.GDClassifier(optimizer="lbfgs", **params).fit(X, y)
        accelerated = fastgd.GDClassifier(optimizer="accelerated", **params).fit(X, y)
    assert lbfgs.converged_ and 3 * lbfgs.n_iter_ < accelerated.n_iter_
    reference = LogisticRegression(C=1 / (1e-3 * len(y)), tol=1e-12, max_iter=100_000).fit(X, y)
    from .test_losses import multinomial_objective

    ours = multinomial_objective(X, y, lbfgs.coef_, lbfgs.intercept_, 1e-3)
    assert ours <= multinomial_objective(X, y, reference.coef_, reference.intercept_, 1e-3) + 1e-9


def test_lbfgs_refuses_what_it_cannot_do():
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(ValueError, match="optimizer='lbfgs' needs a smooth penalty"):
        fastgd.GDRegressor(optimizer="lbfgs", penalty="l1", alpha=0.1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="optimizer='lbfgs' needs full-batch descent"):
        fastgd.GDRegressor(optimizer="lbfgs", batch_size=8).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="optimizer='lbfgs' needs a smooth loss"):
        fastgd.GDClassifier(optimizer="lbfgs", loss="hinge").fit(X, X[:, 0] > 0)


def test_compiled_two_loop_equals_numpy_loops(monkeypatch):
    """L-BFGS's direction is the same whether small problems take the compiled two-loop or numpy's."""
    from fastgd.solvers import lbfgs

    rng = np.random.default_rng(8)
    P = 30
    l2w = np.r_[np.full(P - 1, 0.01), 0.0]
    pairs = []
    for _ in range(7):
        s = rng.normal(size=P)
        y = s * rng.uniform(0.5, 2.0, P) + l2w * s
        pairs.append((s, y, float(y @ s)))
    grad = rng.normal(size=P)
    compiled = lbfgs._two_loop(grad, pairs, l2w)
    monkeypatch.setattr(lbfgs, "COMPILED_TWO_LOOP", 0)
    plain = lbfgs._two_loop(grad, pairs, l2w)
    np.testing.assert_allclose(compiled, plain, rtol=1e-12, atol=1e-14)
    assert not np.allclose(compiled, grad)  # the pairs did change the direction
