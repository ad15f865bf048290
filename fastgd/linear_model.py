"""The public estimators and the functional ``fit``."""

import dataclasses

from .estimators.classifier import GDClassifier
from .estimators.regressor import GDRegressor

__all__ = ["GDClassifier", "GDRegressor", "fit"]


def fit(X, y=None, *, sample_weight=None, **params):
    """Fit a linear model without an estimator object.

    ``params`` are those of :class:`GDRegressor`, or of :class:`GDClassifier`
    when ``loss`` is a classification loss. Returns a :class:`FitResult`
    whose ``classes`` field holds the class labels of a classifier.
    """
    loss = params.get("loss", "squared_error")
    estimator = (GDClassifier if loss in GDClassifier._LOSSES else GDRegressor)(**params)
    result = estimator._fit(X, y, sample_weight)
    return dataclasses.replace(result, classes=getattr(estimator, "classes_", None))
