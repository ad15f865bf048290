"""The fit lifecycle as pipelines drive it: calls in any order, parameters changed
between them, pickles and model files, failures that change nothing."""

import gc
import json
import math
import os
import pickle
import warnings
import weakref

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgd
from fastgd.solvers import Options, schedule_factor

from .datasets import make_classification, make_regression

MINIBATCH_RULES = ["sgd", "asgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
OPTIMIZERS = MINIBATCH_RULES + ["accelerated", "lbfgs", "exact"]


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_regression(3000, 5, seed=201)
    return X, y


def moved(model, before):
    return float(np.max(np.abs(np.append(model.coef_, model.intercept_) - before)))


def parameters(model):
    return np.append(model.coef_, model.intercept_).copy()


@pytest.mark.parametrize("first", MINIBATCH_RULES)
@pytest.mark.parametrize("second", MINIBATCH_RULES)
def test_another_optimizer_continues_from_coef_without_reusing_state(data, first, second):
    X, y = data
    model = fastgd.GDRegressor(optimizer=first, batch_size=32, max_iter=2, tol=None, random_state=0).fit(X, y)
    before = parameters(model)
    model.set_params(optimizer=second, learning_rate=1e-12)
    model.partial_fit(X, y)
    assert model._state.method == second
    assert moved(model, before) < 1e-8
    model.set_params(learning_rate="auto").partial_fit(X, y)
    assert np.all(np.isfinite(model.coef_))


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_full_batch_partial_fit_accepts_every_optimizer_in_turn(data, optimizer):
    X, y = data
    model = fastgd.GDRegressor(optimizer="accelerated", max_iter=3, tol=None).fit(X, y)
    model.set_params(optimizer=optimizer)
    for _ in range(2):
        model.partial_fit(X, y)
    assert np.all(np.isfinite(model.coef_)) and model._state.method == optimizer


def test_partial_fit_reads_every_parameter_again(data):
    X, y = data
    base = fastgd.GDRegressor(optimizer="momentum", batch_size=64, random_state=0).partial_fit(X, y)

    def continued(**params):
        copy = pickle.loads(pickle.dumps(base))
        return copy.set_params(**params).partial_fit(X, y)

    same = continued()
    assert np.abs(continued(penalty="l2", alpha=100.0).coef_).sum() < 0.25 * np.abs(same.coef_).sum()
    assert not np.array_equal(continued(loss="huber", epsilon=0.1).coef_, same.coef_)
    assert not np.array_equal(continued(momentum=0.0).coef_, same.coef_)
    assert moved(continued(learning_rate=1e-12), parameters(base)) < 1e-8
    assert not np.array_equal(continued(batch_size=7).coef_, same.coef_)


def test_partial_fit_divergence_is_caught_and_leaves_the_last_good_state(data):
    X, y = data
    model = fastgd.GDRegressor(optimizer="sgd", batch_size=32, random_state=0)
    model.partial_fit(X, y)
    good, state = parameters(model), model._state
    model.set_params(learning_rate=5.0)
    for _ in range(3):  # every call fails, and fails cleanly
        with pytest.raises(fastgd.DivergenceError, match="learning_rate=5"):
            model.partial_fit(X, y)
        np.testing.assert_array_equal(parameters(model), good)
        assert model._state is state and model.n_iter_ == 1
    model.set_params(learning_rate="auto").partial_fit(X, y)
    assert model.n_iter_ == 2 and np.abs(model.coef_).max() < 100


def test_a_first_call_that_diverges_leaves_the_estimator_unfitted(data):
    X, y = data
    model = fastgd.GDRegressor(optimizer="sgd", batch_size=32, learning_rate=5.0, random_state=0)
    with pytest.raises(fastgd.DivergenceError):
        model.partial_fit(X, y)
    assert not hasattr(model, "coef_") and not hasattr(model, "_state")
    with pytest.raises(fastgd.DivergenceError):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_a_failed_fit_keeps_the_previous_fit(data):
    X, y = data
    model = fastgd.GDRegressor().fit(X, y)
    good = parameters(model)
    bad = X.copy()
    bad[17, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN at row 17, column 3"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="X contains NaN at row 17, column 3"):
        model.partial_fit(bad, y)
    np.testing.assert_array_equal(parameters(model), good)
    assert model.converged_


@pytest.mark.parametrize("batch_size", [None, 32])
def test_cosine_schedule_continues_over_partial_fit_calls(data, batch_size):
    X, y = data
    model = fastgd.GDRegressor(
        optimizer="sgd", schedule="cosine", learning_rate=0.01, max_iter=4, batch_size=batch_size, random_state=0
    )
    steps = []
    for _ in range(6):  # beyond max_iter, the last factor holds
        before = parameters(model) if hasattr(model, "coef_") else None
        model.partial_fit(X, y)
        if before is not None:
            steps.append(moved(model, before))
    assert all(step > 0 for step in steps)
    options = Options(schedule="cosine", max_iter=4)
    factors = [schedule_factor(options, epoch) for epoch in range(1, 8)]
    assert factors[:4] == [0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert factors[4:] == [factors[3]] * 3 and factors[3] > 0


def test_a_fitted_model_holds_no_data(data, tmp_path):
    X, y, _ = make_regression(20_000, 100, seed=202)
    model = fastgd.GDRegressor().fit(X, y)
    size = len(pickle.dumps(model))
    assert size < 0.01 * X.nbytes, size  # coefficients and the optimizer state (L-BFGS: 40 pairs at most)
    reference = weakref.ref(X)
    del X
    gc.collect()
    assert reference() is None

    table = pa.table({**{f"x{j}": np.random.default_rng(j).standard_normal(5000) for j in range(4)}})
    table = table.append_column("y", pa.array(np.random.default_rng(9).standard_normal(5000)))
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    dataset = fastgd.open_dataset(tmp_path / "t.arrow", target="y")
    model = fastgd.GDRegressor(batch_size=64, max_iter=2, tol=None).fit(dataset)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(dataset), model.predict(dataset))

    np.save(tmp_path / "X.npy", np.random.default_rng(3).standard_normal((5000, 4)))
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    fastgd.GDRegressor(batch_size=32, max_iter=2, tol=None).fit(mapped, mapped[:, 0])
    reference = weakref.ref(mapped)
    del mapped
    gc.collect()
    assert reference() is None


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "asgd"])
def test_loaded_and_pickled_models_both_continue_from_coef(data, tmp_path, optimizer):
    X, y = data
    model = fastgd.GDRegressor(optimizer=optimizer, batch_size=512, max_iter=1, tol=None, shuffle=False).fit(X, y)
    model.save(tmp_path / "m.json")
    for copy in (fastgd.load(tmp_path / "m.json"), pickle.loads(pickle.dumps(model))):
        copy.set_params(learning_rate=1e-12).partial_fit(X, y)
        assert moved(copy, parameters(model)) < 1e-8
    loaded, pickled = fastgd.load(tmp_path / "m.json"), pickle.loads(pickle.dumps(model))
    loaded.partial_fit(X, y)
    pickled.partial_fit(X, y)
    # From the same coefficients (and rows in the same order); the pickle also
    # keeps the optimizer's state, which plain SGD does not have.
    assert moved(loaded, parameters(model)) > 1e-6
    if optimizer == "sgd":
        np.testing.assert_allclose(loaded.coef_, pickled.coef_, rtol=1e-12)


def test_optimizer_names_the_method_and_survives_saving(data, tmp_path):
    X, y = data
    cases = [
        (fastgd.GDRegressor(), "exact"),
        (fastgd.GDRegressor(loss="huber"), "lbfgs"),
        (fastgd.GDRegressor(penalty="l1", alpha=0.01, optimizer="accelerated"), "accelerated"),
        (fastgd.GDRegressor(batch_size=64, max_iter=2, tol=None), "asgd"),
        (fastgd.GDClassifier(optimizer="adam", batch_size=64, max_iter=2, tol=None), "adam"),
    ]
    for model, method in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastgd.ConvergenceWarning)
            model.fit(X, y > np.median(y) if isinstance(model, fastgd.GDClassifier) else y)
        assert model.optimizer_ == method
        model.save(tmp_path / "m.json")
        assert fastgd.load(tmp_path / "m.json").optimizer_ == method
    document = json.loads((tmp_path / "m.json").read_text())
    del document["history"]["optimizer"]  # a file written before it was recorded
    (tmp_path / "old.json").write_text(json.dumps(document))
    assert fastgd.load(tmp_path / "old.json").optimizer_ is None


def test_a_refit_replaces_every_fitted_attribute(data, tmp_path):
    X, y = data
    model = fastgd.GDRegressor(standardize=True, early_stopping=True, random_state=0).fit(X, y)
    assert hasattr(model, "feature_mean_") and hasattr(model, "validation_loss_history_")
    model.set_params(standardize=False, early_stopping=False).fit(X, y)
    assert not hasattr(model, "feature_mean_") and not hasattr(model, "feature_scale_")
    assert not hasattr(model, "validation_loss_history_")
    model.save(tmp_path / "m.json")
    from fastgd.cli import main

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", str(tmp_path / "m.json")]) == 0
    assert "standardized" not in out.getvalue()
    named = fastgd.GDRegressor().fit(pa.table({f"c{j}": X[:, j] for j in range(5)}), y)
    assert list(named.feature_names_in_) == [f"c{j}" for j in range(5)]
    named.fit(X, y)
    assert not hasattr(named, "feature_names_in_")


@pytest.mark.parametrize("batch_size", [None, 32])
def test_after_early_stopping_the_state_is_the_best_iterate(batch_size):
    rng = np.random.default_rng(203)
    X = rng.standard_normal((600, 80))  # few rows, many features: it overfits
    y = X[:, 0] + rng.standard_normal(600)
    model = fastgd.GDRegressor(
        early_stopping=True, validation_fraction=0.3, n_iter_no_change=3, batch_size=batch_size,
        random_state=0, optimizer="momentum", learning_rate=0.02, schedule="constant",
    ).fit(X, y)
    assert np.argmin(model.validation_loss_history_) < len(model.validation_loss_history_) - 1
    before = parameters(model)
    model.set_params(learning_rate=1e-12, early_stopping=False).partial_fit(X, y)
    assert moved(model, before) < 1e-8


@pytest.mark.parametrize("cls", [fastgd.GDRegressor, fastgd.GDClassifier])
def test_scikit_learn_check_estimator_passes(cls):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(cls(), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert len(results) > 50 and failed == []


# -- random sequences of calls, as pipelines make them

REGRESSION = make_regression(300, 4, seed=204)[:2]
BINARY = make_classification(300, 4, seed=205)
MULTICLASS = (BINARY[0], np.digitize(BINARY[0][:, 0] + BINARY[0][:, 1], [-0.5, 0.5]))


def _with_categories(X, seed):
    """A table of ``X``'s columns and a string column; its rows drawn from
    categories that differ by seed (later calls meet categories a first one lacked)."""
    kinds = np.random.default_rng(seed).choice(["a", "b", "c", "d"][: 2 + seed % 3], X.shape[0])
    return pa.table({**{f"x{j}": X[:, j] for j in range(X.shape[1])}, "kind": kinds})
#: What a call may raise: bad settings and bad data (ValueError, TypeError),
#: divergence (a ValueError), and nothing else.
DOCUMENTED = (ValueError, TypeError)

PARAMETERS = {
    "optimizer": st.sampled_from(["auto"] + OPTIMIZERS),
    "schedule": st.sampled_from(["auto", "constant", "invscaling", "exponential", "cosine", "plateau"]),
    "batch_size": st.sampled_from([None, None, 1, 16, 64]),
    "learning_rate": st.sampled_from(["auto", "auto", 1e-3, 0.1, 5.0]),
    "penalty": st.sampled_from([None, "l2", "l1", "elasticnet"]),
    "alpha": st.sampled_from([0.0, 1e-3, 0.1]),
    "standardize": st.booleans(),
    "warm_start": st.booleans(),
    "early_stopping": st.booleans(),
    "line_search": st.booleans(),
    "momentum": st.sampled_from([0.0, 0.5, 0.9]),
    "max_iter": st.sampled_from([1, 3, 8]),
    "tol": st.sampled_from(["auto", None, 1e-3]),
    "fit_intercept": st.booleans(),
}
LOSSES = {"regressor": ["squared_error", "huber", "poisson"], "classifier": ["log_loss", "hinge"]}


def _call(model, operation, X, y, classes):
    if operation == "fit":
        model.fit(X, y)
    elif operation == "partial_fit":
        if model._estimator_type == "classifier":
            model.partial_fit(X, y, classes=classes)
        else:
            model.partial_fit(X, y)


#: FASTGD_SEQUENCES=2000 explores further than CI's default.
@settings(
    max_examples=int(os.environ.get("FASTGD_SEQUENCES", 60)), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(kind=st.sampled_from(["regressor", "binary", "multiclass", "categorical"]), draw=st.data())
def test_random_call_sequences_never_crash_and_always_continue_from_coef(kind, draw, tmp_path_factory):
    X, y = {"regressor": REGRESSION, "binary": BINARY, "multiclass": MULTICLASS, "categorical": REGRESSION}[kind]
    if kind in ("regressor", "categorical"):
        y = np.abs(y)  # valid for Poisson too
    classes = np.unique(y)
    regression = kind in ("regressor", "categorical")
    model = fastgd.GDRegressor() if regression else fastgd.GDClassifier()
    losses = LOSSES["regressor" if regression else "classifier"]
    folder = tmp_path_factory.mktemp("sequence")
    operations = st.sampled_from(["fit", "partial_fit", "partial_fit", "set_params", "pickle", "save_load", "predict", "creep"])
    for _ in range(draw.draw(st.integers(1, 8), label="calls")):
        operation = draw.draw(operations, label="operation")
        if kind == "categorical":
            X = _with_categories(REGRESSION[0], draw.draw(st.integers(0, 5), label="categories"))
        fitted = hasattr(model, "coef_")
        before = parameters(model) if fitted else None
        state = getattr(model, "_state", None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if operation == "set_params":
                    name = draw.draw(st.sampled_from(sorted(PARAMETERS) + ["loss"]), label="parameter")
                    value = draw.draw(st.sampled_from(losses) if name == "loss" else PARAMETERS[name], label="value")
                    model.set_params(**{name: value})
                elif operation == "pickle":
                    model = pickle.loads(pickle.dumps(model))
                elif operation == "save_load" and fitted:
                    model.save(folder / "m.json")
                    model = fastgd.load(folder / "m.json")
                elif operation == "predict" and fitted:
                    assert np.all(np.isfinite(model._decision(X)))
                elif operation == "creep" and fitted:
                    # A continuing fit starts from coef_: at a negligible rate it
                    # stays there (L-BFGS searches its own steps, and FISTA's
                    # momentum carries on whatever the rate).
                    rate = model.learning_rate
                    model.set_params(learning_rate=1e-15, line_search=False)
                    _call(model, "partial_fit", X, y, classes)
                    model.set_params(learning_rate=rate)
                    if model._state.method not in ("lbfgs", "accelerated", "exact"):
                        assert moved(model, before) <= 1e-9 * max(1.0, np.abs(before).max())
                else:
                    _call(model, operation, X, y, classes)
        except DOCUMENTED:
            if fitted:  # a failed call changes nothing
                np.testing.assert_array_equal(parameters(model), before)
                assert getattr(model, "_state", None) is state  # a loaded model has none
            continue
        if hasattr(model, "coef_"):
            assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))


# -- what a new user found: columns by name, held-out rows, streams, scores


def test_continuing_fits_match_columns_by_name():
    import pandas as pd

    X, y = REGRESSION
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = fastgd.GDRegressor(batch_size=16, random_state=0)
    for _ in range(3):
        model.partial_fit(frame, y)
    before = model.predict(frame)
    model.set_params(learning_rate=1e-12).partial_fit(frame[["d", "c", "b", "a"]], y)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_allclose(model.predict(frame), before, atol=1e-8)
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['B'\]"):
        model.partial_fit(frame.rename(columns={"b": "B"}), y)
    model.partial_fit(frame.to_numpy(), y)  # by position: the names stay
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    warm = fastgd.GDRegressor(warm_start=True, max_iter=3, tol=None, optimizer="sgd", learning_rate=1e-12)
    warm.fit(frame, y)
    coef = dict(zip(warm.feature_names_in_, warm.coef_))
    warm.fit(frame[["c", "a", "d", "b"]], y)
    assert dict(zip(warm.feature_names_in_, warm.coef_)) == pytest.approx(coef, abs=1e-9)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_non_finite_values_in_held_out_rows_are_named(batch_size):
    X, y = REGRESSION
    X = X.copy()
    held_out = np.flatnonzero(np.random.default_rng([0, 0]).random(len(y)) < 0.1)  # the split of random_state=0
    X[held_out[0], 2] = np.nan
    model = fastgd.GDRegressor(early_stopping=True, random_state=0, batch_size=batch_size)
    with pytest.raises(ValueError, match=f"X contains NaN at row {held_out[0]}, column 2"):
        model.fit(X, y)


def test_a_stream_standardizes_without_freezing_columns_constant_in_its_first_rows():
    X, y = REGRESSION
    order = np.argsort(X[:, 1] > 0, kind="stable")
    X, y = X[order].copy(), y[order]
    X[:100, 1] = 0.0  # constant over the first call's rows only
    model = fastgd.GDRegressor(standardize=True, batch_size=16, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastgd.DataWarning)
        for _ in range(20):
            for start in range(0, len(y), 100):
                model.partial_fit(X[start : start + 100], y[start : start + 100])
    reference = fastgd.GDRegressor().fit(X, y)
    assert model.feature_scale_[1] == 1.0
    assert abs(model.coef_[1] - reference.coef_[1]) < 0.25 * abs(reference.coef_[1])  # frozen would be 0


def test_probabilities_exist_only_for_the_log_loss():
    assert not hasattr(fastgd.GDClassifier(loss="hinge"), "predict_proba")
    assert hasattr(fastgd.GDClassifier(), "predict_proba")
    from sklearn.ensemble import StackingClassifier

    X, y = BINARY
    StackingClassifier([("svm", fastgd.GDClassifier(loss="hinge"))], cv=3).fit(X, y)


def test_balanced_class_weights_are_refused_in_a_stream():
    X, y = BINARY
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported by partial_fit"):
        fastgd.GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_score_on_datasets(tmp_path):
    X, y = REGRESSION
    table = pa.table({**{f"x{j}": X[:, j] for j in range(4)}, "y": y, "w": np.linspace(1, 2, len(y))})
    model = fastgd.GDRegressor().fit(X, y)
    with_target = fastgd.open_dataset(table, target="y", features=[f"x{j}" for j in range(4)])
    assert model.score(with_target) == pytest.approx(model.score(X, y), rel=1e-12)
    weighted = fastgd.open_dataset(table, target="y", weight="w")
    assert model.score(weighted) == pytest.approx(model.score(X, y, sample_weight=table["w"].to_numpy()), rel=1e-12)
    with pytest.raises(ValueError, match="carries its own target"):
        model.score(with_target, y)
    with pytest.raises(ValueError, match="has no target"):
        model.score(fastgd.open_dataset(table.drop(["y", "w"])))


def test_large_feature_values_keep_a_positive_step():
    X, y = REGRESSION
    X = X.copy()
    X[:, 3] *= 1e22
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = fastgd.GDRegressor(max_iter=5, tol=None).fit(X, y)
    assert model.learning_rate_ > 0
    with pytest.raises(ValueError, match="too large"):
        fastgd.GDRegressor().fit(X * 1e280, y)


def test_labels_a_model_file_cannot_hold_are_refused_when_saving(tmp_path):
    X, y = BINARY
    dates = np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]")[y]
    model = fastgd.GDClassifier(max_iter=5).fit(X, dates)
    with pytest.raises(TypeError, match=r"classes of dtype datetime64\[D\] cannot be saved"):
        model.save(tmp_path / "m.json")
