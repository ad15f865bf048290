"""Linear classification fitted by gradient descent: logistic, softmax, linear SVM."""

import numpy as np

from .. import losses
from .._params import available_if, signature_with
from .._validation import check_real, describe
from .base import GDBase
from .outputs import block_labels, block_probabilities


class GDClassifier(GDBase):
    """Linear classifier fitted by gradient descent.

    Labels may be of any type: 0/1, -1/1, strings. With two classes,
    ``loss="log_loss"`` is logistic regression on ``y`` in {-1, +1}
    (``classes_[1]`` is +1) and ``"hinge"`` is a linear SVM; with more, the
    log loss becomes the softmax cross-entropy over K classes, ``coef_`` has
    shape (K, n_features) and ``intercept_`` (K,). Penalties and every other
    parameter are those of :class:`GDRegressor`, plus:

    Parameters
    ----------
    class_weight : None, "balanced" or dict
        Multiplies each row's weight by its class's: ``n / (K * count)`` for
        "balanced", or the dict's value (1 for classes not in it). A key may
        also be a label's text ("1" for the class 1), as JSON writes keys.
    """

    _LOSSES = losses.CLASSIFICATION
    _estimator_type = "classifier"

    def __init__(self, loss="log_loss", *, class_weight=None, **params):
        super().__init__(loss, **params)
        self.class_weight = class_weight

    __init__.__signature__ = signature_with(GDBase.__init__, extra=(("class_weight", None),), loss="log_loss")

    def partial_fit(self, X, y=None, sample_weight=None, classes=None):
        """One epoch over ``X``, continuing from ``coef_``; see :meth:`GDRegressor.partial_fit`.

        The first call needs every class in ``classes``; later calls may
        repeat them.
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def _target_encoder(self, source, name, classes):
        seen, counts = source.target_counts(name)
        if seen.dtype.kind == "f" and not np.all(np.isfinite(seen)):
            raise ValueError(f"{name} contains {_first_nonfinite(source)}; class labels must be finite")
        if classes is None:
            if seen.dtype.kind == "f" and np.any(seen != np.round(seen)):
                example = seen[seen != np.round(seen)][0]
                raise ValueError(
                    f"Unknown label type: continuous ({name} has non-integer values such as {float(example)!r}); "
                    "GDClassifier needs class labels: use GDRegressor for a continuous target (on the command "
                    "line: a regression loss, such as the default squared_error)"
                )
            classes = seen
        unknown = np.setdiff1d(seen, classes)
        if unknown.size:
            raise ValueError(f"{name} has labels not in classes: {unknown[:10].tolist()}")
        if classes.shape[0] < 2:
            raise ValueError(
                f"GDClassifier needs at least 2 classes in {name}, got 1 class: {classes[:10].tolist()}"
            )
        if classes.shape[0] > 2 and self.loss != "log_loss":
            raise ValueError(
                f"loss={self.loss!r} handles 2 classes; {name} has {classes.shape[0]}: use "
                "loss='log_loss' for the multinomial model"
            )
        if classes.shape[0] == 2:
            def encode(raw):
                return np.where(raw == classes[1], 1.0, -1.0)
        else:
            def encode(raw):
                return np.searchsorted(classes, raw).astype(np.float64)
        weights = self._class_weights(classes, seen, counts)
        reweight = None
        if weights is not None:
            def reweight(raw):
                return weights[np.searchsorted(classes, raw)]
        return encode, reweight, classes

    def _class_weights(self, classes, seen, counts):
        """Per-class weight multipliers, or None without ``class_weight``."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            per_class = np.zeros(len(classes))
            per_class[np.searchsorted(classes, seen)] = counts
            with np.errstate(divide="ignore"):
                return np.where(per_class > 0, per_class.sum() / (len(classes) * per_class), 0.0)
        weights = np.ones(len(classes))
        for label, value in self.class_weight.items():
            where = np.flatnonzero(classes == label)
            if not where.size and isinstance(label, str) and classes.dtype.kind != "U":
                # JSON (model files, the command line) has only string keys: "1" names the class 1.
                where = np.flatnonzero([str(c) == label for c in classes.tolist()])
            if not where.size:
                raise ValueError(
                    f"class_weight has the label {label!r}, which is not a class: {classes.tolist()}"
                )
            weights[where] = check_real(value, f"class_weight[{label!r}]", low=0.0)
        return weights

    def decision_function(self, X):
        """Linear predictor ``X @ coef_.T + intercept_``, as float64.

        ``X`` is anything :meth:`fit` takes; tables and Datasets are matched
        to the fitted features by name. Shape ``(n,)`` (positive for
        ``classes_[1]``), or ``(n, K)`` for more than two classes; a Dask
        array for Dask data.
        """
        return self._decision(X)

    def predict(self, X):
        """Predicted class labels (a Dask array for Dask input)."""
        self._check_fitted()
        n_out = np.size(self.intercept_)
        return self._outputs(X, block_labels, (n_out, self.classes_), None, self.classes_.dtype)

    @available_if(
        lambda self: self.loss == "log_loss",
        lambda self: f"probabilities are not available for loss={self.loss!r}; use loss='log_loss'",
    )
    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes); rows sum to 1 (``loss="log_loss"`` only)."""
        self._check_fitted()
        n_out = np.size(self.intercept_)
        return self._outputs(X, block_probabilities, (n_out,), len(self.classes_), np.float64)

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy."""
        prediction, y, w = self._scored(X, y, sample_weight)
        return float(np.average(prediction == y, weights=w))


def _first_nonfinite(source):
    """The first non-finite raw target as :func:`~fastgd._validation.first_nonfinite`
    names a regression target's ("NaN at row 7"), or "NaN or infinity" where the source cannot say."""
    offset = 0
    try:
        for raw in source.raw_targets():
            values = np.asarray(raw, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                return f"{describe(values[bad[0]])} at row {offset + int(bad[0])}"
            offset += values.shape[0]
    except NotImplementedError:
        pass
    return "NaN or infinity"
