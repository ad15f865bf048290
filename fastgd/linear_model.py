"""scikit-learn-style estimators: validation, fit/partial_fit/predict, fitted attributes."""

import dataclasses
import math
import numbers
import warnings

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
from ._validation import kernel_dtype, readonly
from .data.dask import is_dask_collection
from .data.dataset import Dataset
from .data.inputs import _TARGET, prediction_data, training_data
from .data.subset import split
from .exceptions import DataWarning, NotFittedError
from .optim import rules
from .problem import Problem
from .solver import SCHEDULES, Options, solve, start

PENALTIES = (None, "l2", "l1", "elasticnet")
OPTIMIZERS = ("auto",) + tuple(rules.CODES)
SHUFFLES = ("exact", "block")
#: ``tol="auto"``: full-batch epochs are cheap and exact, so solve to near
#: machine precision; mini-batch objectives are noisy estimates.
TOL_FULL_BATCH = 1e-10
TOL_MINIBATCH = 1e-4
#: Subgradient descent on a kink (hinge) gains little per epoch near the end.
TOL_NONSMOOTH = 1e-6

#: (name, low, high, low_open, high_open) of every real-valued parameter.
_REALS = (
    ("alpha", 0.0, math.inf, False, False),
    ("l1_ratio", 0.0, 1.0, False, False),
    ("momentum", 0.0, 1.0, False, True),
    ("beta1", 0.0, 1.0, False, True),
    ("beta2", 0.0, 1.0, False, True),
    ("eps", 0.0, math.inf, True, False),
    ("power_t", 0.0, math.inf, False, False),
    ("lr_decay", 0.0, 1.0, True, False),
    ("plateau_factor", 0.0, 1.0, True, True),
    ("validation_fraction", 0.0, 1.0, True, True),
    ("epsilon", 0.0, math.inf, True, False),
)


class _GDBase(ParamsMixin):
    """Shared parameters, validation, fitting and prediction of the estimators."""

    _LOSSES = ()

    def __init__(
        self,
        loss,
        *,
        penalty=None,
        alpha=0.0,
        l1_ratio=0.15,
        fit_intercept=True,
        standardize=False,
        batch_size=None,
        optimizer="auto",
        learning_rate="auto",
        schedule="auto",
        line_search=False,
        momentum=0.9,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        power_t=0.25,
        lr_decay=0.9,
        plateau_factor=0.5,
        max_iter=1000,
        tol="auto",
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        shuffle_buffer="auto",
        random_state=None,
        warm_start=False,
        callbacks=None,
        epsilon=1.35,
        verbose=0,
    ):
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.line_search = line_search
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.power_t = power_t
        self.lr_decay = lr_decay
        self.plateau_factor = plateau_factor
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.random_state = random_state
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.epsilon = epsilon
        self.verbose = verbose

    # -- fitting

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
        settings, options = self._validate_params()
        source, classes = self._encoded_source(training_data(X, y, sample_weight), None)
        settings = self._with_classes(settings, classes)
        validation = None
        if self.early_stopping:
            source, held_out = split(source, settings["validation_fraction"], self._split_seed())
        problem = self._problem(source, settings)
        if self.early_stopping:
            validation = dataclasses.replace(problem, source=held_out)
        theta = None
        if self.warm_start and self._compatible_fit(problem):
            theta = problem.from_data_units(self._raw_coefficients())
        state = start(problem, options, theta)
        result, state = solve(problem, options, state, validation)
        self._solver = (problem, state)
        self._store(result, problem, classes)
        self.n_iter_ = result.n_iter
        self.loss_history_ = result.loss_history
        if validation is not None:
            self.validation_loss_history_ = result.validation_loss_history
        if result.interrupted:
            raise KeyboardInterrupt
        return result

    def _partial_fit(self, X, y, sample_weight, classes):
        settings, options = self._validate_params()
        continuing = hasattr(self, "_solver")
        if continuing:
            classes = getattr(self, "classes_", None)
        elif self._estimator_type == "classifier":
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = np.unique(np.asarray(classes))
        source, classes = self._encoded_source(training_data(X, y, sample_weight), classes)
        one_epoch = dataclasses.replace(options, max_iter=1, tol=None)
        if continuing:
            previous, state = self._solver
            if source.n_features != previous.n_features:
                raise ValueError(
                    f"X has {source.n_features} features, but {type(self).__name__} was fitted "
                    f"with {previous.n_features}"
                )
            problem = dataclasses.replace(previous, source=source)
        else:
            problem = self._problem(source, self._with_classes(settings, classes))
            state = start(problem, one_epoch)
            self.n_iter_ = 0
            self.loss_history_ = np.empty(0)
        result, state = solve(problem, one_epoch, state)
        self._solver = (problem, state)
        self._store(result, problem, classes)
        self.n_iter_ += 1
        self.loss_history_ = np.append(self.loss_history_, result.loss_history)
        return self

    def _problem(self, source, settings):
        """The Problem for ``source``: loss, penalty and, if asked, standardization."""
        problem = Problem(source=source, **settings["problem"])
        if not settings["standardize"]:
            return problem
        mean, std, rms = problem.column_moments()
        # Centring without an intercept would change the model: scale only.
        center, scale = (mean, std) if problem.fit_intercept else (np.zeros_like(mean), rms)
        constant = np.flatnonzero(scale <= 1e-12 * np.maximum(np.abs(center), 1.0))
        if constant.size:
            names = source.feature_names or [f"column {j}" for j in range(source.n_features)]
            listed = ", ".join(repr(names[j]) if source.feature_names else names[j] for j in constant[:10])
            warnings.warn(
                f"{constant.size} feature(s) have zero variance: {listed}; their coefficients "
                "are fixed at 0",
                DataWarning,
                stacklevel=4,
            )
            scale = scale.copy()
            scale[constant] = 0.0
        return dataclasses.replace(problem, mean=center, scale=scale)

    def _store(self, result, problem, classes):
        if classes is not None:
            self.classes_ = classes
        self.interrupted_ = result.interrupted
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.converged_ = result.converged
        self.learning_rate_ = result.learning_rate
        self.n_features_in_ = problem.n_features
        names = problem.source.feature_names
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if problem.standardized:
            self.feature_mean_, self.feature_scale_ = problem.center, problem.scale

    def _compatible_fit(self, problem):
        return (
            hasattr(self, "coef_")
            and self.n_features_in_ == problem.n_features
            and np.size(self.intercept_) == problem.n_out
        )

    def _raw_coefficients(self):
        coef = np.atleast_2d(self.coef_)
        return np.column_stack([coef, np.ravel(self.intercept_)]).ravel()

    def _split_seed(self):
        state = self.random_state
        if isinstance(state, numbers.Integral):
            return int(state)
        return int(np.random.default_rng(state).integers(2**63))

    def _encoded_source(self, dataset, classes):
        """The dataset's source with encoded targets, and the classes (or None)."""
        raw = dataset.source
        name = "y" if dataset.target in (None, "y", _TARGET) else f"target column {dataset.target!r}"
        encode, reweight, classes = self._target_encoder(raw, name, classes)
        return raw.with_target(encode, reweight), classes

    def _with_classes(self, settings, classes):
        return settings

    # -- parameters

    def _validate_params(self):
        """Check every parameter once; return the problem settings and the Options."""
        if self.loss not in self._LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r} for {type(self).__name__}; "
                f"choose one of {', '.join(map(repr, self._LOSSES))}"
            )
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"unknown penalty {self.penalty!r}; choose one of {', '.join(map(repr, PENALTIES))}"
            )
        reals = {
            name: check_real(getattr(self, name), name, low, high, low_open, high_open)
            for name, low, high, low_open, high_open in _REALS
        }
        alpha = reals["alpha"] if self.penalty is not None else 0.0
        l1_share = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": reals["l1_ratio"]}[self.penalty]
        batch_size = self.batch_size
        if batch_size is not None:
            batch_size = check_integer(batch_size, "batch_size", low=1)
        learning_rate = self.learning_rate
        if not (isinstance(learning_rate, str) and learning_rate == "auto"):
            if isinstance(learning_rate, str):
                raise ValueError(
                    f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}"
                )
            learning_rate = check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
        loss = kernels.CODES[self.loss]
        optimizer = self._optimizer(batch_size, loss)
        schedule = self._schedule(batch_size, optimizer, loss)
        line_search = check_boolean(self.line_search, "line_search")
        searchable = (rules.SGD, rules.ACCELERATED, rules.LBFGS)
        if line_search and (batch_size is not None or optimizer not in searchable):
            raise ValueError(
                "line_search=True needs full-batch descent (batch_size=None) with optimizer "
                "'sgd', 'accelerated' or 'lbfgs'"
            )
        if optimizer == rules.LBFGS and l1_share > 0 and alpha > 0:
            raise ValueError(
                f"optimizer='lbfgs' needs a smooth penalty (None or 'l2'), got penalty={self.penalty!r}"
            )
        if optimizer == rules.LBFGS and loss in kernels.NONSMOOTH:
            raise ValueError(f"optimizer='lbfgs' needs a smooth loss, got loss={self.loss!r}")
        if isinstance(self.tol, str) and self.tol == "auto":
            tol = TOL_MINIBATCH if batch_size is not None else (
                TOL_NONSMOOTH if loss in kernels.NONSMOOTH else TOL_FULL_BATCH
            )
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
        early_stopping = check_boolean(self.early_stopping, "early_stopping")
        if early_stopping and tol is None:
            raise ValueError("early_stopping=True needs a tol (a number or 'auto'), got tol=None")
        check_boolean(self.warm_start, "warm_start")
        settings = dict(
            problem=dict(
                loss=loss,
                loss_param=reals["epsilon"],
                l2=alpha * (1.0 - l1_share),
                l1=alpha * l1_share,
                fit_intercept=check_boolean(self.fit_intercept, "fit_intercept"),
            ),
            standardize=check_boolean(self.standardize, "standardize"),
            validation_fraction=reals["validation_fraction"],
        )
        options = Options(
            batch_size=batch_size,
            learning_rate=learning_rate,
            optimizer=optimizer,
            schedule=schedule,
            line_search=line_search,
            max_iter=check_integer(self.max_iter, "max_iter", low=1),
            tol=tol,
            n_iter_no_change=check_integer(self.n_iter_no_change, "n_iter_no_change", low=1),
            shuffle=self._shuffle_mode(),
            shuffle_buffer=self._shuffle_buffer_rows(),
            random_state=self.random_state,
            verbose=check_integer(self.verbose, "verbose", low=0),
            momentum=reals["momentum"],
            beta1=reals["beta1"],
            beta2=reals["beta2"],
            eps=reals["eps"],
            power_t=reals["power_t"],
            lr_decay=reals["lr_decay"],
            plateau_factor=reals["plateau_factor"],
            callbacks=self._callbacks(),
        )
        return settings, options

    def _optimizer(self, batch_size, loss):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(map(repr, OPTIMIZERS))}"
            )
        if self.optimizer == "auto":
            if batch_size is not None:
                return rules.ASGD
            return rules.SGD if loss in kernels.NONSMOOTH else rules.ACCELERATED
        if self.optimizer in ("accelerated", "lbfgs") and batch_size is not None:
            raise ValueError(
                f"optimizer={self.optimizer!r} needs full-batch descent (batch_size=None), "
                f"got batch_size={batch_size}"
            )
        return rules.CODES[self.optimizer]

    def _schedule(self, batch_size, optimizer, loss):
        if self.schedule == "auto":
            # Steps that settle on their own keep a constant rate; the rest
            # (noisy gradients, momentum, adaptive or non-smooth steps) halve
            # it each time the objective stalls.
            settled = batch_size is None and optimizer in (rules.ACCELERATED, rules.SGD, rules.LBFGS)
            return "constant" if settled and loss not in kernels.NONSMOOTH else "plateau"
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.schedule!r}; choose one of "
                f"{', '.join(map(repr, ('auto',) + SCHEDULES))}"
            )
        return self.schedule

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

    def _callbacks(self):
        callbacks = self.callbacks
        if callbacks is None:
            return ()
        callbacks = tuple(callbacks) if isinstance(callbacks, (list, tuple)) else (callbacks,)
        for callback in callbacks:
            if not callable(callback):
                raise TypeError(
                    f"callbacks must be a callable or a list of callables, got {type(callback).__name__}"
                )
        return callbacks

    # -- prediction

    def decision_function(self, X):
        """Linear predictor ``X @ coef_.T + intercept_``, as float64.

        ``X`` is anything :meth:`fit` takes; tables and Datasets are matched
        to the fitted features by name. Shape ``(n,)``, or ``(n, K)`` for a
        multinomial classifier.
        """
        self._check_fitted()
        if is_dask_collection(X) or (isinstance(X, Dataset) and X.source.distributed):
            return self._dask_decision(X)
        blocks = list(self._decision_blocks(X))
        decision = np.concatenate([values for _, values in blocks]) if blocks else np.empty(0)
        return decision

    def _prediction_source(self, X):
        """The target-free source of ``X``, checked against the fitted features."""
        names = getattr(self, "feature_names_in_", None)
        source = prediction_data(X, None if names is None else list(names)).source.with_target(None)
        if source.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_}"
            )
        return source

    def _dask_decision(self, X):
        """A Dask array of the decision values, computed on the workers."""
        source = self._prediction_source(X)
        return source.predict(predict_partition, self._raw_coefficients(), int(np.size(self.intercept_)))

    def _decision_blocks(self, X):
        """Yield ``(first_row, decision)`` block by block: bounded memory for big data."""
        self._check_fitted()
        source = self._prediction_source(X)
        theta = self._raw_coefficients()
        n_out = np.size(self.intercept_)
        for block in source.blocks():
            out = np.empty((block.X.shape[0], n_out))
            kernels.predict(block.X, theta, out)
            yield block.start, (out[:, 0] if np.ndim(self.intercept_) == 0 else out)

    def _scored(self, X, y, sample_weight):
        """Predictions of ``X``, the true targets and the weights, for ``score``."""
        prediction = self.predict(X)
        if isinstance(X, Dataset):
            y = np.concatenate([np.asarray(raw) for raw in X.source.raw_targets()])
        y = check_target(y, prediction.shape[0])
        w = check_sample_weight(sample_weight, prediction.shape[0])
        return prediction, y, w if w.shape[0] else None

    def save(self, path):
        """Write the fitted model to ``path`` as JSON; :func:`fastgd.load` reads it back."""
        from .persistence import save

        save(self, path)

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )


class GDRegressor(_GDBase):
    """Linear regression fitted by gradient descent.

    Minimises the mean loss plus ``penalty(w)``, where the penalty is
    scikit-learn's SGD one: ``alpha/2 ||w||**2`` (``"l2"``), ``alpha ||w||_1``
    (``"l1"``) or ``alpha * (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||**2)``
    (``"elasticnet"``). The intercept is never penalised.

    Losses, with ``p = x @ w + b``:

    - ``"squared_error"``: ``(p - y)**2 / 2``. The 1/(2m) cost makes the
      gradient ``X.T @ err / m``; texts that write the cost as
      ``(1/m) sum(err**2)`` use a learning rate half of ours for the same steps.
    - ``"huber"``: squared error for ``|p - y| <= epsilon``, linear beyond.
    - ``"poisson"``: ``exp(p) - y p``, the Poisson deviance with a log link
      (targets must be non-negative); scikit-learn's ``PoissonRegressor``.

    Parameters
    ----------
    loss : {"squared_error", "huber", "poisson"}
    penalty : {None, "l2", "l1", "elasticnet"}
    alpha : float, penalty strength (ignored when ``penalty=None``)
    l1_ratio : float in [0, 1], the L1 share of ``"elasticnet"``
    fit_intercept : bool
    standardize : bool
        Descend in the coordinates of standardized columns (means and
        standard deviations from one extra pass; X is never rescaled). The
        objective is unchanged, penalty included, and ``coef_`` is in the
        data's units; badly scaled features stop slowing descent down. A
        column of zero variance gets coefficient 0 and a warning.
    batch_size : int or None
        None for full-batch descent, B for mini-batches of B rows, 1 for
        stochastic descent.
    optimizer : {"auto", "accelerated", "lbfgs", "sgd", "asgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
        "auto" is "accelerated" in full batch (plain "sgd" for non-smooth
        losses) and "asgd" for mini-batches. "accelerated" is Nesterov's
        method (FISTA, proximal with L1) with adaptive restart, full batch
        only. "lbfgs" is limited-memory BFGS with a backtracking line search,
        full batch, smooth losses and penalties only: usually the fewest
        passes to a tight optimum. "asgd" is SGD whose coefficients are the
        mean of the iterates from the second epoch on. The rest are the usual
        rules, with ``momentum``, ``beta1``, ``beta2`` (Adam; RMSProp's decay)
        and ``eps``.
    learning_rate : "auto" or float
        "auto" takes ``1/L`` in full batch, where ``L`` is the Lipschitz
        constant of the gradient (power iteration on ``X1.T X1 / m`` times the
        loss's curvature bound, plus the L2 share), halving it if a step ever
        raises the objective. Mini-batches take ``0.5 / L_B`` with
        ``L_B = L + (L_max - L)/B``, ``L_max`` the largest per-row constant.
        Momentum rules take ``1 - momentum`` times that; adaptive rules that
        times the RMS of the first gradient. A float fixes the rate.
    schedule : {"auto", "constant", "invscaling", "exponential", "cosine", "plateau"}
        How the rate changes: ``lr / t**power_t`` per step (per epoch in full
        batch), ``lr * lr_decay**epoch``, a cosine from ``lr`` to 0 over
        ``max_iter`` epochs, or times ``plateau_factor`` whenever the objective
        stalls for ``n_iter_no_change`` epochs (the fit then ends when a cut no
        longer helps). "auto" is "constant" for full-batch "accelerated" and
        "sgd" on smooth losses, "plateau" otherwise.
    line_search : bool
        Backtracking (Armijo) on every full-batch step, from twice the last
        accepted rate.
    momentum, beta1, beta2, eps, power_t, lr_decay, plateau_factor : float
    max_iter : int, epochs at most
    tol : "auto", float or None
        Stop when the objective has not improved on its best by more than
        ``tol`` (relative) for ``n_iter_no_change`` epochs. "auto" is 1e-10
        in full batch (1e-6 for the hinge) and 1e-4 for mini-batches. 0 runs
        until the objective stops decreasing at all; None runs ``max_iter``
        epochs.
    n_iter_no_change : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows (drawn from
        ``random_state``, block by block) and stop when their mean loss has
        not improved by ``tol`` for ``n_iter_no_change`` epochs; the best
        coefficients are restored.
    validation_fraction : float in (0, 1)
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
    random_state : None, int, numpy Generator or SeedSequence
        Seeds the shuffles and the validation split.
    warm_start : bool, start ``fit`` from the current coefficients
    callbacks : callable or list of callables
        ``callback(epoch, objective, coef)`` after every epoch; returning True
        stops the fit.
    epsilon : float, the Huber threshold
    verbose : int, log one line per epoch through the ``fastgd`` logger

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int, epochs run
    loss_history_ : ndarray, the objective after each epoch (for mini-batches,
        the mean batch loss during the epoch at the reported coefficients)
    validation_loss_history_ : ndarray, with early stopping
    converged_ : bool
    interrupted_ : bool, whether Ctrl-C stopped the fit (a ``KeyboardInterrupt``
        inside ``fit`` keeps the last completed epoch's coefficients, then
        propagates)
    learning_rate_ : float, the base rate at the end
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when fitted on named columns
    feature_mean_, feature_scale_ : ndarray, with ``standardize=True``
    """

    _LOSSES = ("squared_error", "huber", "poisson")
    _estimator_type = "regressor"

    def __init__(self, loss="squared_error", **params):
        super().__init__(loss, **params)

    __init__.__signature__ = signature_with(_GDBase.__init__, loss="squared_error")

    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over ``X``, continuing from the current coefficients and
        optimizer state. The first call fixes the rate and the standardization."""
        return self._partial_fit(X, y, sample_weight, None)

    def _target_encoder(self, source, name, classes):
        poisson = self.loss == "poisson"

        def encode(raw):
            values = numeric_target(raw, name)
            if poisson and values.size and values.min() < 0:
                raise ValueError(
                    f"loss='poisson' needs non-negative targets; {name} has {values.min()}"
                )
            return values

        return encode, None, None

    def predict(self, X):
        """Predicted values (the mean ``exp(X @ coef_ + intercept_)`` for Poisson)."""
        decision = self.decision_function(X)
        return np.exp(decision) if self.loss == "poisson" else decision

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
        "balanced", or the dict's value (1 for classes not in it).
    """

    _LOSSES = ("log_loss", "hinge")
    _estimator_type = "classifier"

    def __init__(self, loss="log_loss", *, class_weight=None, **params):
        super().__init__(loss, **params)
        self.class_weight = class_weight

    __init__.__signature__ = signature_with(
        _GDBase.__init__, extra=(("class_weight", None),), loss="log_loss"
    )

    def partial_fit(self, X, y=None, sample_weight=None, classes=None):
        """One epoch over ``X``, continuing from the current coefficients and
        optimizer state. The first call needs every class in ``classes``."""
        return self._partial_fit(X, y, sample_weight, classes)

    def _validate_params(self):
        settings, options = super()._validate_params()
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}")
        return settings, options

    def _target_encoder(self, source, name, classes):
        seen, counts = source.target_counts()
        if seen.dtype.kind == "f" and not np.all(np.isfinite(seen)):
            raise ValueError(f"{name} contains NaN or infinity; class labels must be finite")
        if classes is None:
            classes = seen
        unknown = np.setdiff1d(seen, classes)
        if unknown.size:
            raise ValueError(f"{name} has labels not in classes: {unknown[:10].tolist()}")
        if classes.shape[0] < 2:
            raise ValueError(
                f"GDClassifier needs at least 2 classes in {name}, got {classes.shape[0]}: "
                f"{classes[:10].tolist()}"
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

    def _with_classes(self, settings, classes):
        if len(classes) > 2:
            multinomial = dict(settings["problem"], loss=kernels.MULTINOMIAL, n_out=len(classes))
            return dict(settings, problem=multinomial)
        return settings

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
            if not where.size:
                raise ValueError(
                    f"class_weight has the label {label!r}, which is not a class: {classes.tolist()}"
                )
            weights[where] = check_real(value, f"class_weight[{label!r}]", low=0.0)
        return weights

    def predict(self, X):
        """Predicted class labels (a Dask array for Dask input)."""
        self._check_fitted()
        decision = self.decision_function(X)
        if is_dask_collection(decision):
            drop = 1 if decision.ndim == 2 else None
            return decision.map_blocks(self._labels, drop_axis=drop, dtype=self.classes_.dtype)
        return self._labels(decision)

    def _labels(self, decision):
        if decision.ndim == 2:
            return self.classes_[np.argmax(decision, axis=1)]
        return self.classes_[(decision > 0).astype(np.intp)]

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes); rows sum to 1."""
        if self.loss != "log_loss":
            raise AttributeError(f"probabilities are not available for loss={self.loss!r}")
        decision = self.decision_function(X)
        if is_dask_collection(decision):
            chunks = (decision.chunks[0], (len(self.classes_),))
            new = 1 if decision.ndim == 1 else None
            return decision.map_blocks(self._probabilities, chunks=chunks, new_axis=new, dtype=np.float64)
        return self._probabilities(decision)

    def _probabilities(self, decision):
        if decision.ndim == 2:
            shifted = np.exp(decision - decision.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        p1 = _sigmoid(decision)
        return np.column_stack([1.0 - p1, p1])

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy."""
        prediction, y, w = self._scored(X, y, sample_weight)
        return float(np.average(prediction == y, weights=w))


def predict_partition(X, theta, n_out):
    """Decision values of one partition (what Dask workers run)."""
    X = readonly(np.ascontiguousarray(X, dtype=kernel_dtype(np.asarray(X).dtype)))
    out = np.empty((X.shape[0], n_out))
    kernels.predict(X, theta, out)
    return out[:, 0] if n_out == 1 else out


def _sigmoid(z):
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    ez = np.exp(z[~positive])
    out[~positive] = ez / (1.0 + ez)
    return out


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
