"""Bad input gets a clear error naming what is wrong, and nothing is modified."""

import numpy as np
import pytest

import fastgd

from .datasets import make_regression


@pytest.fixture
def data():
    X, y, _ = make_regression(200, 3, seed=13)
    return X, y


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("learning_rate", ["auto", 0.01])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_x_is_named_with_row_and_column(data, batch_size, learning_rate, value):
    X, y = data
    X = X.copy()
    X[57, 2] = value
    model = fastgd.GDRegressor(batch_size=batch_size, learning_rate=learning_rate)
    name = "NaN" if np.isnan(value) else str(value)
    with pytest.raises(ValueError, match=rf"X contains {name} at row 57, column 2"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("batch_size", [None, 16])
def test_non_finite_y_is_named_with_row(data, batch_size):
    X, y = data
    y = y.copy()
    y[120] = np.nan
    with pytest.raises(ValueError, match="y contains NaN at row 120"):
        fastgd.GDRegressor(batch_size=batch_size).fit(X, y)


def test_non_finite_in_float32_classifier_input(data):
    X, y = data
    X = X.astype(np.float32)
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="X contains inf at row 3, column 0"):
        fastgd.GDClassifier().fit(X, y > 0)
    with pytest.raises(ValueError, match="y contains NaN at row 2; class labels must be finite"):
        fastgd.GDClassifier().fit(X[4:], np.r_[0.0, 1.0, np.nan, np.zeros(193)])


@pytest.mark.parametrize("standardize", [True, False])
def test_values_too_large_overflow_with_a_clear_error(standardize):
    X = np.random.default_rng(14).standard_normal((10, 2)) * 1e200
    with pytest.raises(ValueError, match="overflowed.*too large"):
        fastgd.GDRegressor(standardize=standardize).fit(X, np.ones(10))


def test_mismatched_lengths(data):
    X, y = data
    with pytest.raises(ValueError, match="X has 200 rows but y has 199; they must match"):
        fastgd.GDRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="X has 200 rows but sample_weight has 3"):
        fastgd.GDRegressor().fit(X, y, sample_weight=[1.0, 2.0, 3.0])


def test_zero_rows_and_zero_columns():
    with pytest.raises(ValueError, match=r"X has 0 rows \(shape=\(0, 3\)\); at least 1 row is required"):
        fastgd.GDRegressor().fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match=r"X has 0 feature\(s\) \(shape=\(5, 0\)\)"):
        fastgd.GDRegressor().fit(np.empty((5, 0)), np.ones(5))


def test_wrong_dimensions(data):
    X, y = data
    with pytest.raises(ValueError, match=r"X must be 2-D .* shape \(200,\)"):
        fastgd.GDRegressor().fit(X[:, 0], y)
    with pytest.raises(ValueError, match=r"y must be 1-D, got an array of shape \(200, 2\)"):
        fastgd.GDRegressor().fit(X, np.column_stack([y, y]))


@pytest.mark.parametrize(
    "X, dtype",
    [(np.array([["a", "b"], ["c", "d"]]), "<U1"), (np.array([[1 + 2j, 0], [0, 1]]), "complex128")],
)
def test_non_numeric_x(X, dtype):
    error, message = (ValueError, "Complex data not supported") if dtype == "complex128" else (TypeError, "fastgd needs numbers")
    with pytest.raises(error, match=f"X has dtype {dtype}.*{message}"):
        fastgd.GDRegressor().fit(X, [1.0, 2.0])


def test_non_numeric_regression_target(data):
    X, _ = data
    with pytest.raises(TypeError, match="^y holds values such as .a., not numbers: loss=.squared_error. needs a numeric target"):
        fastgd.GDRegressor().fit(X, np.array(["a"] * 200))


@pytest.mark.parametrize("rate", [0.0, -0.1, np.nan, np.inf])
def test_non_positive_learning_rate(data, rate):
    with pytest.raises(ValueError, match=f"learning_rate must be finite and > 0, got {rate}"):
        fastgd.GDRegressor(learning_rate=rate).fit(*data)
    with pytest.raises(ValueError, match="learning_rate must be 'auto' or a positive number"):
        fastgd.GDRegressor(learning_rate="fast").fit(*data)


def test_unknown_names(data):
    with pytest.raises(ValueError, match="unknown loss 'hinge' for GDRegressor; choose one of 'squared_error'"):
        fastgd.GDRegressor(loss="hinge").fit(*data)
    with pytest.raises(ValueError, match="unknown loss 'squared_error' for GDClassifier"):
        fastgd.GDClassifier(loss="squared_error").fit(data[0], data[1] > 0)
    with pytest.raises(ValueError, match="unknown penalty 'l3'; choose one of None, 'l2', 'l1', 'elasticnet'"):
        fastgd.GDRegressor(penalty="l3").fit(*data)
    with pytest.raises(ValueError, match="unknown optimizer 'newton'"):
        fastgd.GDRegressor(optimizer="newton").fit(*data)
    with pytest.raises(ValueError, match="optimizer='accelerated' needs full-batch descent"):
        fastgd.GDRegressor(optimizer="accelerated", batch_size=8).fit(*data)


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(alpha=-1.0, penalty="l2"), ValueError, "alpha must be finite and >= 0, got -1.0"),
        (dict(alpha="big"), TypeError, "alpha must be a real number, got str 'big'"),
        (dict(l1_ratio=1.5), ValueError, "l1_ratio must be finite and >= 0 and <= 1, got 1.5"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer, got float"),
        (dict(max_iter=0), ValueError, "max_iter must be >= 1, got 0"),
        (dict(tol=-1e-3), ValueError, "tol must be finite and >= 0, got -0.001"),
        (dict(tol="tight"), ValueError, "tol must be 'auto', None or a number >= 0"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change must be >= 1, got 0"),
        (dict(fit_intercept="yes"), TypeError, "fit_intercept must be True or False"),
        (dict(shuffle=1), TypeError, "shuffle must be True or False"),
        (dict(random_state="seed"), TypeError, "random_state must be None, an int"),
        (dict(verbose=-1), ValueError, "verbose must be >= 0"),
    ],
)
def test_bad_parameters(data, params, error, message):
    with pytest.raises(error, match=message):
        fastgd.GDRegressor(**params).fit(*data)


def test_bad_sample_weight(data):
    X, y = data
    w = np.ones(200)
    w[7] = -1.0
    with pytest.raises(ValueError, match="sample_weight must be non-negative; row 7 is -1.0"):
        fastgd.GDRegressor().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        fastgd.GDRegressor().fit(X, y, sample_weight=np.zeros(200))
    w[7] = np.nan
    with pytest.raises(ValueError, match="sample_weight contains NaN or infinity; row 7 is nan"):
        fastgd.GDRegressor().fit(X, y, sample_weight=w)


def test_predict_before_fit(data):
    for est in (fastgd.GDRegressor(), fastgd.GDClassifier()):
        with pytest.raises(fastgd.NotFittedError, match="is not fitted yet; call fit"):
            est.predict(data[0])
    assert issubclass(fastgd.NotFittedError, ValueError)


def test_feature_count_at_predict(data):
    X, y = data
    model = fastgd.GDRegressor().fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but GDRegressor is expecting 3 features as input"):
        model.predict(X[:, :2])


def test_classifier_needs_two_classes(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"needs at least 2 classes in y, got 1 class: \[1\]"):
        fastgd.GDClassifier().fit(X, np.ones(200, int))
    with pytest.raises(ValueError, match="loss='hinge' handles 2 classes; y has 3: use loss='log_loss'"):
        fastgd.GDClassifier(loss="hinge").fit(X, np.resize([0, 1, 2], 200))


def test_labels_of_numbers_and_strings_are_named_not_sorted(data):
    import dask.array as da
    import pandas as pd

    X, _ = data
    y = np.array(["a", 3] * 100, dtype=object)
    kept = y.copy()
    message = "y mixes values of types int and str, which cannot be sorted together"
    with pytest.raises(TypeError, match=message):
        fastgd.GDClassifier().fit(X, y)
    with pytest.raises(TypeError, match=message):
        fastgd.GDClassifier().fit(pd.DataFrame(X), pd.Series(y))
    with pytest.raises(TypeError, match="y mixes values of types that cannot be sorted together"):
        fastgd.GDClassifier().fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    with pytest.raises(TypeError, match="classes mixes values of types int and str"):
        fastgd.GDClassifier().partial_fit(X, np.resize(["a", "b"], 200), classes=np.array(["a", 3], dtype=object))
    assert np.array_equal(y, kept)


@pytest.mark.parametrize("batch_size", [None, 8])
def test_divergence_raises_naming_the_learning_rate(data, batch_size):
    X, y = data
    model = fastgd.GDRegressor(learning_rate=50.0, batch_size=batch_size, optimizer="sgd")
    with pytest.raises(fastgd.DivergenceError, match=r"learning_rate=50.*try learning_rate='auto' \(about"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_slow_divergence_is_caught_before_overflow():
    # Just above 2/L, plain descent grows by a few percent an epoch: it is
    # stopped by the steady rise long before the objective overflows.
    X, y, _ = make_regression(500, 2, seed=14)
    X1 = np.column_stack([X, np.ones(500)])
    lipschitz = np.linalg.eigvalsh(X1.T @ X1 / 500).max()
    model = fastgd.GDRegressor(optimizer="sgd", learning_rate=2.05 / lipschitz, max_iter=100_000)
    with pytest.raises(fastgd.DivergenceError, match=r"rose for (\d+) epochs in a row") as error:
        model.fit(X, y)
    rises = int(error.value.args[0].split("rose for ")[1].split()[0])
    assert 5 <= rises <= 20
