"""Training controls: partial_fit, warm_start, early stopping, callbacks, weights."""

import numpy as np
import pytest

import fastgd
from fastgd._config import block_rows

from .datasets import make_classification, make_regression


def test_two_partial_fits_on_halves_equal_one_epoch_of_fit():
    half = block_rows(4)  # the halves meet on a block boundary, as fit's blocks do
    X, y, _ = make_regression(2 * half, 4, seed=71)
    params = dict(batch_size=64, shuffle=False, optimizer="sgd", learning_rate=0.01, standardize=False)
    fitted = fastgd.GDRegressor(max_iter=1, tol=None, **params).fit(X, y)
    partial = fastgd.GDRegressor(**params)
    partial.partial_fit(X[:half], y[:half])
    partial.partial_fit(X[half:], y[half:])
    assert np.array_equal(partial.coef_, fitted.coef_)
    assert partial.intercept_ == fitted.intercept_
    assert partial.n_iter_ == 2 and len(partial.loss_history_) == 2


def test_partial_fit_carries_optimizer_state_and_step_count():
    X, y, _ = make_regression(4000, 3, seed=72)
    params = dict(
        batch_size=100, shuffle=False, optimizer="adam", learning_rate=0.05, schedule="constant", standardize=False
    )
    split = fastgd.GDRegressor(**params)
    restarted = fastgd.GDRegressor(warm_start=True, max_iter=1, tol=None, **params)
    for _ in range(2):  # two epochs over the same rows, half at a time
        for part in (slice(0, 2000), slice(2000, 4000)):
            split.partial_fit(X[part], y[part])
            restarted.fit(X[part], y[part])  # keeps the coefficients, not Adam's state
    reference = fastgd.GDRegressor(max_iter=2, tol=None, **params).fit(X, y)
    # Adam's moments and bias correction continue across calls: the same
    # path as one fit over the same sequence of batches.
    np.testing.assert_allclose(split.coef_, reference.coef_, rtol=1e-12)
    assert np.abs(restarted.coef_ - reference.coef_).max() > 1e-6


def test_partial_fit_classifier_needs_all_classes_up_front():
    X, y = make_classification(3000, 3, seed=73)
    model = fastgd.GDClassifier(batch_size=32, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[:1000], y[:1000], classes=[0, 1])
    for start in range(1000, 3000, 1000):
        model.partial_fit(X[start : start + 1000], y[start : start + 1000])
    assert list(model.classes_) == [0, 1] and model.score(X, y) > 0.8
    with pytest.raises(ValueError, match=r"y has labels not in classes: \[7\]"):
        model.partial_fit(X[:10], np.full(10, 7))


def test_warm_start_continues_from_the_previous_coefficients():
    X, y, _ = make_regression(5000, 5, seed=74)
    params = dict(optimizer="sgd", learning_rate=0.01, max_iter=5, tol=None)
    cold = fastgd.GDRegressor(**params).fit(X, y)
    warm = fastgd.GDRegressor(warm_start=True, **params).fit(X, y)
    first = warm.loss_history_.copy()
    warm.fit(X, y)
    ten = fastgd.GDRegressor(**{**params, "max_iter": 10}).fit(X, y)
    np.testing.assert_array_equal(first, cold.loss_history_)
    np.testing.assert_allclose(np.r_[first, warm.loss_history_], ten.loss_history_, rtol=1e-12)
    np.testing.assert_allclose(warm.coef_, ten.coef_, rtol=1e-12)
    fresh = fastgd.GDRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(fresh.coef_, cold.coef_)


@pytest.mark.parametrize("batch_size", [None, 32])
def test_early_stopping_stops_after_patience_and_restores_the_best(batch_size):
    rng = np.random.default_rng(75)
    X = rng.standard_normal((600, 80))  # few rows, many features: it overfits
    y = X[:, 0] + rng.standard_normal(600)
    seen = {}
    model = fastgd.GDRegressor(
        early_stopping=True, validation_fraction=0.3, n_iter_no_change=4, batch_size=batch_size,
        random_state=0, optimizer="sgd", learning_rate=0.02, schedule="constant",
        callbacks=lambda epoch, objective, coef: seen.__setitem__(epoch, coef.copy()),
    ).fit(X, y)
    scores = model.validation_loss_history_
    best = int(np.argmin(scores)) + 1
    assert model.stop_reason_ == "early_stopping" and not model.converged_
    assert best < model.n_iter_ == best + 4
    assert len(scores) == model.n_iter_
    np.testing.assert_array_equal(model.coef_, seen[best])
    assert model.loss_history_[-1] < model.loss_history_[best - 1]  # training kept improving
    again = fastgd.GDRegressor(**model.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.validation_loss_history_, scores)  # the split is reproducible


def test_validation_rows_are_held_out_of_training():
    from .naive import objective

    X, y, _ = make_regression(2000, 3, seed=76)
    seen = []
    model = fastgd.GDRegressor(
        early_stopping=True, validation_fraction=0.25, random_state=5, fit_intercept=False,
        callbacks=lambda epoch, value, coef: seen.append(coef.copy()),
    ).fit(X, y)
    # Each natural block draws its validation rows from (random_state, block).
    held = np.random.default_rng([5, 0]).random(2000) < 0.25
    assert 0.2 < held.mean() < 0.3
    for epoch, coef in enumerate(seen):
        train = objective(X[~held], y[~held], coef, 0.0)
        validation = objective(X[held], y[held], coef, 0.0)
        assert model.loss_history_[epoch] == pytest.approx(train, rel=1e-12)
        assert model.validation_loss_history_[epoch] == pytest.approx(validation, rel=1e-12)


def test_callbacks_see_every_epoch_and_can_stop():
    X, y, _ = make_regression(3000, 4, seed=77)
    calls = []

    def callback(epoch, objective, coef):
        calls.append((epoch, objective, coef.shape))
        return epoch == 3

    model = fastgd.GDRegressor(optimizer="lbfgs", callbacks=[callback]).fit(X, y)
    assert [c[0] for c in calls] == [1, 2, 3] and model.n_iter_ == 3
    assert [c[1] for c in calls] == list(model.loss_history_) and calls[0][2] == (4,)
    assert not model.converged_
    with pytest.raises(TypeError, match="callbacks must be a callable or a list of callables"):
        fastgd.GDRegressor(callbacks=[3]).fit(X, y)


def test_class_weight_equals_sample_weights():
    X, y = make_classification(4000, 3, seed=78)
    counts = np.bincount(y)
    balanced = fastgd.GDClassifier(class_weight="balanced").fit(X, y)
    weights = (len(y) / (2 * counts))[y]
    reference = fastgd.GDClassifier().fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(balanced.coef_, reference.coef_, rtol=1e-9)
    custom = fastgd.GDClassifier(class_weight={1: 3.0}).fit(X, y)
    reference = fastgd.GDClassifier().fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(custom.coef_, reference.coef_, rtol=1e-9)
    with pytest.raises(ValueError, match="class_weight has the label 5, which is not a class"):
        fastgd.GDClassifier(class_weight={5: 1.0}).fit(X, y)


def test_sample_weight_in_minibatches_is_unbiased():
    X, y, _ = make_regression(20_000, 3, seed=79)
    weights = np.where(np.arange(20_000) % 2 == 0, 3.0, 1.0)
    from .naive import objective

    weighted = fastgd.GDRegressor(batch_size=64, random_state=0).fit(X, y, sample_weight=weights)
    exact = fastgd.GDRegressor().fit(X, y, sample_weight=weights)
    best = objective(X, y, exact.coef_, exact.intercept_, sample_weight=weights)
    gap = objective(X, y, weighted.coef_, weighted.intercept_, sample_weight=weights) - best
    assert 0 <= gap <= 1e-4 * best
