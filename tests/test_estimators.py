"""The scikit-learn-style API: parameters, cloning, pipelines, labels, results."""

import logging
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastgd

from .datasets import make_classification, make_regression
from .naive import objective


@pytest.mark.parametrize("cls", [fastgd.GDRegressor, fastgd.GDClassifier])
def test_init_only_stores_and_params_round_trip(cls):
    est = cls(alpha="not validated yet", max_iter=-1)
    assert est.alpha == "not validated yet" and est.max_iter == -1
    params = cls().get_params()
    assert params["loss"] == cls._LOSSES[0]
    assert {"penalty", "alpha", "l1_ratio", "batch_size", "learning_rate", "tol"} <= set(params)
    est = cls().set_params(alpha=0.5, penalty="l2")
    assert est.get_params()["alpha"] == 0.5
    with pytest.raises(ValueError, match="invalid parameter 'alfa'.*valid parameters are"):
        est.set_params(alfa=1)
    with pytest.raises(TypeError):
        cls(alfa=1)
    assert repr(est) == f"{cls.__name__}(alpha=0.5, penalty='l2')"


def test_clone_and_pipeline_and_grid_search(regression):
    X, y, _ = regression
    est = fastgd.GDRegressor(penalty="l2", alpha=0.01)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), fastgd.GDRegressor()).fit(X, y)
    assert pipe.score(X, y) > 0.9
    grid = GridSearchCV(fastgd.GDRegressor(penalty="l2"), {"alpha": [1e-3, 10.0]}, cv=3).fit(X, y)
    assert grid.best_params_ == {"alpha": 1e-3}


def test_fastgd_does_not_import_sklearn():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, fastgd\n"
        "m = fastgd.GDRegressor().fit(np.eye(3), [1.0, 2.0, 3.0])\n"
        "fastgd.GDClassifier().fit(np.eye(3), [0, 1, 1]).predict(np.eye(3))\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "labels",
    [(0, 1), (-1, 1), ("cat", "dog"), (False, True), (2.0, 7.0)],
)
def test_classifier_takes_any_binary_labels(classification, labels):
    X, y = classification
    mapped = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    reference = fastgd.GDClassifier().fit(X, y)
    model = fastgd.GDClassifier().fit(X, mapped)
    assert list(model.classes_) == sorted(labels)
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert set(np.unique(model.predict(X))) <= set(labels)
    assert model.score(X, mapped) == reference.score(X, y) > 0.8


def test_classifier_probabilities_and_decision_function(classification):
    X, y = classification
    model = fastgd.GDClassifier(penalty="l2", alpha=1e-3).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    decision = model.decision_function(X)
    np.testing.assert_allclose(decision, X @ model.coef_ + model.intercept_, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(decision > 0).astype(int)])
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-decision)), rtol=1e-12)


def test_regressor_predict_and_r2(regression):
    X, y, _ = regression
    model = fastgd.GDRegressor().fit(X, y)
    prediction = model.predict(X)
    np.testing.assert_allclose(prediction, X @ model.coef_ + model.intercept_, rtol=1e-12)
    r2 = 1 - ((y - prediction) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert model.score(X, y) == pytest.approx(r2, rel=1e-12)


def test_fitted_attributes(regression):
    X, y, _ = regression
    model = fastgd.GDRegressor().fit(X, y)
    assert model.coef_.shape == (5,) and isinstance(model.intercept_, float)
    assert model.n_features_in_ == 5
    assert model.converged_ and model.n_iter_ == len(model.loss_history_)
    assert model.loss_history_[-1] == pytest.approx(
        objective(X, y, model.coef_, model.intercept_), rel=1e-12
    )
    assert np.all(np.diff(model.loss_history_) <= 1e-12 * model.loss_history_[0])
    assert model.learning_rate_ > 0


def test_functional_fit_returns_the_estimators_result(regression, classification):
    X, y, _ = regression
    result = fastgd.fit(X, y, penalty="l2", alpha=0.1)
    model = fastgd.GDRegressor(penalty="l2", alpha=0.1).fit(X, y)
    np.testing.assert_array_equal(result.coef, model.coef_)
    assert result.intercept == model.intercept_ and result.n_iter == model.n_iter_
    assert result.converged and result.classes is None
    Xc, yc = classification
    result = fastgd.fit(Xc, yc, loss="log_loss")
    np.testing.assert_array_equal(result.coef, fastgd.GDClassifier().fit(Xc, yc).coef_)
    np.testing.assert_array_equal(result.classes, [0, 1])


def test_not_converged_warns_once(regression):
    X, y, _ = regression
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastgd.GDRegressor(optimizer="sgd", learning_rate=1e-4, max_iter=20).fit(X, y)
    relevant = [w for w in caught if issubclass(w.category, fastgd.ConvergenceWarning)]
    assert len(relevant) == 1 and "max_iter=20" in str(relevant[0].message)
    assert not model.converged_ and model.n_iter_ == 20


def test_no_warning_when_tol_is_none(regression):
    X, y, _ = regression
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgd.GDRegressor(max_iter=3, tol=None).fit(X, y)


def test_verbose_logs_one_line_per_epoch(regression, caplog):
    X, y, _ = regression
    with caplog.at_level(logging.INFO, logger="fastgd"):
        model = fastgd.GDRegressor(optimizer="lbfgs", verbose=1, max_iter=4, tol=None).fit(X, y)
    lines = [r.getMessage() for r in caplog.records if r.name == "fastgd"]
    assert len(lines) == model.n_iter_ == 4
    assert lines[0].startswith("epoch 1: objective") and "rows/s" in lines[0]


def test_estimator_pickles(regression):
    X, y, _ = regression
    model = fastgd.GDRegressor(penalty="l2", alpha=0.1).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_fit_intercept_false_keeps_zero_intercept(regression):
    X, y, _ = regression
    model = fastgd.GDRegressor(fit_intercept=False, tol=0).fit(X, y)
    assert model.intercept_ == 0.0
    reference, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(model.coef_, reference, rtol=1e-7)


def test_sample_weight_of_two_equals_duplicating_the_row():
    X, y, _ = make_regression(300, 3, seed=11)
    weights = np.ones(300)
    weights[:50] = 2.0
    weighted = fastgd.GDRegressor(penalty="l2", alpha=0.01, tol=0).fit(X, y, sample_weight=weights)
    duplicated = fastgd.GDRegressor(penalty="l2", alpha=0.01, tol=0).fit(
        np.vstack([X, X[:50]]), np.concatenate([y, y[:50]])
    )
    np.testing.assert_allclose(weighted.coef_, duplicated.coef_, rtol=1e-10)
    assert weighted.intercept_ == pytest.approx(duplicated.intercept_, rel=1e-10)


@pytest.mark.parametrize("layout", ["F", "strided", "int", "memmap", "list"])
def test_every_layout_gives_the_c_contiguous_answer(tmp_path, layout):
    X, y, _ = make_regression(3000, 4, seed=12)
    if layout == "int":
        X = np.round(X * 10).astype(np.int32)
    reference = fastgd.GDRegressor().fit(np.ascontiguousarray(X, dtype=np.float64), y)
    if layout == "F":
        data = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((3000, 8))
        wide[:, ::2] = X
        data = wide[:, ::2]
    elif layout == "memmap":
        np.save(tmp_path / "X.npy", X)
        data = np.load(tmp_path / "X.npy", mmap_mode="r")
    elif layout == "list":
        data = X.tolist()
    else:
        data = X
    model = fastgd.GDRegressor().fit(data, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-10)
    np.testing.assert_allclose(model.predict(data), reference.predict(X), rtol=1e-12)
    mini = dict(batch_size=64, random_state=0, max_iter=3, tol=None)
    np.testing.assert_array_equal(
        fastgd.GDRegressor(**mini).fit(data, y).coef_,
        fastgd.GDRegressor(**mini).fit(np.ascontiguousarray(X, dtype=np.float64), y).coef_,
    )


def test_the_callers_arrays_are_never_modified(regression):
    X, y, _ = regression
    weights = np.linspace(0.5, 1.5, len(y))
    copies = [a.copy() for a in (X, y, weights)]
    model = fastgd.GDRegressor(batch_size=32, max_iter=3, tol=None).fit(X, y, sample_weight=weights)
    model.predict(X)
    fastgd.GDRegressor(penalty="l1", alpha=0.01).fit(X, y, sample_weight=weights)
    for original, copy in zip((X, y, weights), copies):
        np.testing.assert_array_equal(original, copy)
        assert original.flags.writeable
