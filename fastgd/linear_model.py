"""scikit-learn-style estimators: validation, fit/predict, fitted attributes."""

import dataclasses
import math
import numbers

import numpy as np

from . import kernels
from ._params import ParamsMixin, signature_with
from ._validation import (
    check_boolean,
    check_integer,
    check_real,
    check_sample_weight,
    check_target,
    numeric_target,
)
from .data.dataset import Dataset
from .data.inputs import _TARGET, prediction_data, training_data
from .exceptions import NotFittedError
from .optim import rules
from .solver import FitResult, Options, Problem, solve

PENALTIES = (None, "l2", "l1", "elasticnet")
SHUFFLES = ("exact", "block")
OPTIMIZERS = ("auto",) + tuple(rules.CODES)
#: ``tol="auto"``: full-batch epochs are cheap and exact, so solve to near
#: machine precision; mini-batch objectives are noisy estimates.
TOL_FULL_BATCH = 1e-10
TOL_MINIBATCH = 1e-4


class _GDBase(ParamsMixin):
    """Shared parameters, validation and prediction of the two estimators."""

    _LOSSES = ()

    def __init__(
        self,
        loss,
        *,
        penalty=None,
        alpha=0.0,
        l1_ratio=0.15,
        fit_intercept=True,
        batch_size=None,
        learning_rate="auto",
        optimizer="auto",
        max_iter=1000,
        tol="auto",
        n_iter_no_change=5,
        shuffle=True,
        shuffle_buffer="auto",
        random_state=None,
        verbose=0,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None, sample_weight=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), table or Dataset
            An array of any numeric dtype and memory layout (float32 and
            float64 C-contiguous arrays and memory maps are used without a
            copy); a pyarrow Table or pandas/polars DataFrame whose columns
            are the features; or a :class:`~fastgd.Dataset` from
            :func:`~fastgd.open_dataset`, which brings its own target and
            weights.
        y : array-like of shape (n_samples,); leave out with a Dataset
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight)
        return self

    def _fit(self, X, y, sample_weight):
        """Validate, solve, store the fitted attributes; return the FitResult."""
        problem_args, options = self._validate_params()
        dataset = training_data(X, y, sample_weight)
        raw = dataset.source
        name = "y" if dataset.target in (None, "y", _TARGET) else f"target column {dataset.target!r}"
        encode, classes = self._target_encoder(raw.raw_targets(), name)
        source = raw.with_target(encode)
        result = solve(Problem(source=source, **problem_args), options)
        if classes is not None:
            self.classes_ = classes
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.n_iter_ = result.n_iter
        self.loss_history_ = result.loss_history
        self.converged_ = result.converged
        self.learning_rate_ = result.learning_rate
        self.n_features_in_ = source.n_features
        if source.feature_names is not None:
            self.feature_names_in_ = np.asarray(source.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return result

    def _validate_params(self):
        """Check every parameter once; return the Problem arguments and Options."""
        if self.loss not in self._LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r} for {type(self).__name__}; "
                f"choose one of {', '.join(map(repr, self._LOSSES))}"
            )
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"unknown penalty {self.penalty!r}; choose one of {', '.join(map(repr, PENALTIES))}"
            )
        alpha = check_real(self.alpha, "alpha", low=0.0)
        l1_ratio = check_real(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        l1_share = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[self.penalty]
        if self.penalty is None:
            alpha = 0.0
        batch_size = self.batch_size
        if batch_size is not None:
            batch_size = check_integer(batch_size, "batch_size", low=1)
        learning_rate = self.learning_rate
        if not (isinstance(learning_rate, str) and learning_rate == "auto"):
            if isinstance(learning_rate, str):
                raise ValueError(
                    f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}"
                )
            learning_rate = check_real(learning_rate, "learning_rate", low=0.0, strict=True)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(map(repr, OPTIMIZERS))}"
            )
        optimizer = self.optimizer
        if optimizer == "auto":
            optimizer = "accelerated" if batch_size is None else "asgd"
        elif optimizer == "accelerated" and batch_size is not None:
            raise ValueError(
                "optimizer='accelerated' needs full-batch descent (batch_size=None), "
                f"got batch_size={batch_size}"
            )
        automatic_minibatch = batch_size is not None and learning_rate == "auto"
        if isinstance(self.tol, str) and self.tol == "auto":
            tol = TOL_FULL_BATCH if batch_size is None else TOL_MINIBATCH
        elif self.tol is None:
            tol = None
        elif isinstance(self.tol, str):
            raise ValueError(f"tol must be 'auto', None or a number >= 0, got {self.tol!r}")
        else:
            tol = check_real(self.tol, "tol", low=0.0)
        if self.random_state is not None and not isinstance(
            self.random_state, (numbers.Integral, np.random.Generator, np.random.SeedSequence)
        ):
            raise TypeError(
                "random_state must be None, an int, a numpy Generator or SeedSequence, "
                f"got {type(self.random_state).__name__}"
            )
        problem_args = dict(
            loss=kernels.CODES[self.loss],
            l2=alpha * (1.0 - l1_share),
            l1=alpha * l1_share,
            fit_intercept=check_boolean(self.fit_intercept, "fit_intercept"),
        )
        options = Options(
            batch_size=batch_size,
            learning_rate=learning_rate,
            optimizer=rules.CODES[optimizer],
            schedule="plateau" if automatic_minibatch else "constant",
            max_iter=check_integer(self.max_iter, "max_iter", low=1),
            tol=tol,
            n_iter_no_change=check_integer(self.n_iter_no_change, "n_iter_no_change", low=1),
            shuffle=self._shuffle_mode(),
            shuffle_buffer=self._shuffle_buffer_rows(),
            random_state=self.random_state,
            verbose=check_integer(self.verbose, "verbose", low=0),
        )
        return problem_args, options

    def _shuffle_mode(self):
        if isinstance(self.shuffle, str):
            if self.shuffle not in SHUFFLES:
                raise ValueError(
                    f"shuffle must be True, False, 'exact' or 'block', got {self.shuffle!r}"
                )
            return self.shuffle
        return check_boolean(self.shuffle, "shuffle")

    def _shuffle_buffer_rows(self):
        if isinstance(self.shuffle_buffer, str) and self.shuffle_buffer == "auto":
            return None
        return check_integer(self.shuffle_buffer, "shuffle_buffer", low=1)

    def decision_function(self, X):
        """Linear predictor ``X @ coef_ + intercept_``, as float64.

        ``X`` is anything :meth:`fit` takes; tables and Datasets are matched
        to the fitted features by name.
        """
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        source = prediction_data(X, None if names is None else list(names)).source.with_target(None)
        if source.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        theta = np.append(self.coef_, self.intercept_)
        out = np.empty(source.n_rows)
        for block in source.blocks():
            kernels.predict(block.X, theta, out[block.start : block.start + block.X.shape[0]])
        return out

    def _scored(self, X, y, sample_weight):
        """Predictions of ``X``, the true targets and the weights, for ``score``."""
        prediction = self.predict(X)
        if isinstance(X, Dataset):
            y = np.concatenate([np.asarray(raw) for raw in X.source.raw_targets()])
        y = check_target(y, prediction.shape[0])
        w = check_sample_weight(sample_weight, prediction.shape[0])
        return prediction, y, w if w.shape[0] else None

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )


class GDRegressor(_GDBase):
    """Linear regression fitted by gradient descent.

    Minimises ``1/(2m) * sum((X @ w + b - y)**2) + penalty(w)``, where the
    penalty is scikit-learn's SGD one: ``alpha/2 ||w||**2`` (``"l2"``),
    ``alpha ||w||_1`` (``"l1"``) or
    ``alpha * (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||**2)`` (``"elasticnet"``).
    The intercept is never penalised. The 1/(2m) convention makes the gradient
    ``X.T @ err / m``; texts that write the cost as ``(1/m) sum(err**2)`` use
    a learning rate half of ours for the same steps.

    Parameters
    ----------
    loss : {"squared_error"}
    penalty : {None, "l2", "l1", "elasticnet"}
    alpha : float, penalty strength (ignored when ``penalty=None``)
    l1_ratio : float in [0, 1], the L1 share of ``"elasticnet"``
    fit_intercept : bool
    batch_size : int or None
        None for full-batch descent, B for mini-batches of B rows, 1 for
        stochastic descent.
    learning_rate : "auto" or float
        "auto" takes ``1/L`` in full batch, where ``L`` is the Lipschitz
        constant of the gradient (power iteration on ``X1.T X1 / m`` plus the
        L2 share), halving it if a step ever raises the objective. Mini-batch
        and stochastic descent take ``0.5 / L_B`` with
        ``L_B = L + (L_max - L)/B``, ``L_max`` being the largest per-row
        constant. A float fixes the rate.
    optimizer : {"auto", "accelerated", "sgd", "asgd"}
        "auto" is "accelerated" in full batch and "asgd" in mini-batch modes.
        "accelerated" is Nesterov's method (FISTA, proximal with L1) with
        adaptive restart, full batch only. "sgd" is plain (proximal) descent.
        "asgd" is SGD whose coefficients are the mean of the iterates from
        the second epoch on.
    max_iter : int, epochs at most
    tol : "auto", float or None
        Stop when the objective has not improved on its best by more than
        ``tol`` (relative) for ``n_iter_no_change`` epochs. "auto" is 1e-10
        in full batch and 1e-4 in mini-batch modes. None runs ``max_iter``
        epochs. Under the automatic mini-batch rate a plateau first halves the
        rate and restarts the average; the fit stops when a halving no longer
        improves the objective.
    n_iter_no_change : int
    shuffle : bool, "exact" or "block"
        How mini-batch epochs order the rows (a fresh order every epoch).
        "exact" is a full permutation; it needs random row access (arrays,
        memory maps, a tensor column in one buffer). "block" visits the
        natural blocks (row groups, record batches, slices of about 4 MiB of
        arrays) in random order and permutes rows within a buffer of
        ``shuffle_buffer`` rows: it reads streamed data in order and keeps
        memory bounded, but a batch draws from one buffer, not the whole data.
        True is "exact" where possible, else "block"; False keeps stored order.
    shuffle_buffer : "auto" or int
        Rows in the block-shuffle buffer (at least one block); "auto" is four
        blocks.
    random_state : None, int or numpy Generator, seeds the shuffles
    verbose : int, log one line per epoch through the ``fastgd`` logger

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int, epochs run
    loss_history_ : ndarray, the objective after each epoch (in mini-batch
        modes, the mean of the batch losses during the epoch)
    converged_ : bool
    learning_rate_ : float, the rate used (after any halving)
    n_features_in_ : int
    """

    _LOSSES = ("squared_error",)
    _estimator_type = "regressor"

    def __init__(self, loss="squared_error", **params):
        super().__init__(loss, **params)

    __init__.__signature__ = signature_with(_GDBase.__init__, loss="squared_error")

    def _target_encoder(self, raw_blocks, name):
        return lambda raw: numeric_target(raw, name), None

    def predict(self, X):
        """Predicted values, as float64."""
        return self.decision_function(X)

    def score(self, X, y=None, sample_weight=None):
        """Coefficient of determination R^2 of the prediction."""
        prediction, y, w = self._scored(X, y, sample_weight)
        y = numeric_target(y)
        residual = np.average((y - prediction) ** 2, weights=w)
        spread = np.average((y - np.average(y, weights=w)) ** 2, weights=w)
        if spread == 0.0:
            return 1.0 if residual == 0.0 else 0.0
        return float(1.0 - residual / spread)


class GDClassifier(_GDBase):
    """Binary linear classifier fitted by gradient descent.

    Minimises the mean logistic loss ``log(1 + exp(-y (X @ w + b)))`` with
    ``y`` in {-1, +1} (``classes_[1]`` is +1) plus the same penalties as
    :class:`GDRegressor`. Labels may be of any type: 0/1, -1/1, strings.
    Parameters and attributes are those of :class:`GDRegressor`, with
    ``loss`` in {"log_loss"} and, once fitted, ``classes_``.
    """

    _LOSSES = ("log_loss",)
    _estimator_type = "classifier"

    def __init__(self, loss="log_loss", **params):
        super().__init__(loss, **params)

    __init__.__signature__ = signature_with(_GDBase.__init__, loss="log_loss")

    def _target_encoder(self, raw_blocks, name):
        classes = None
        for raw in raw_blocks:
            if raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
                raise ValueError(f"{name} contains NaN or infinity; class labels must be finite")
            seen = np.unique(raw)
            classes = seen if classes is None else np.union1d(classes, seen)
        if classes.shape[0] != 2:
            raise ValueError(
                f"GDClassifier needs exactly 2 classes in {name}, got {classes.shape[0]}: "
                f"{classes[:10].tolist()}; multinomial (more than 2 classes) is not supported yet"
            )
        return (lambda raw: np.where(raw == classes[1], 1.0, -1.0)), classes

    def predict(self, X):
        """Predicted class labels."""
        self._check_fitted()
        return self.classes_[(self.decision_function(X) > 0).astype(np.intp)]

    def predict_proba(self, X):
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, shape (n, 2)."""
        p1 = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy."""
        prediction, y, w = self._scored(X, y, sample_weight)
        return float(np.average(prediction == y, weights=w))


def _sigmoid(z):
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    ez = np.exp(z[~positive])
    out[~positive] = ez / (1.0 + ez)
    return out


def fit(X, y, *, sample_weight=None, **params):
    """Fit a linear model without an estimator object.

    ``params`` are those of :class:`GDRegressor`, or of :class:`GDClassifier`
    when ``loss`` is a classification loss. Returns a :class:`FitResult`
    whose ``classes`` field holds the class labels of a classifier.
    """
    loss = params.get("loss", "squared_error")
    estimator = (GDClassifier if loss in GDClassifier._LOSSES else GDRegressor)(**params)
    result = estimator._fit(X, y, sample_weight)
    return dataclasses.replace(result, classes=getattr(estimator, "classes_", None))
