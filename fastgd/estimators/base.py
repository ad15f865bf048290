"""The estimators' shared lifecycle: fit, partial_fit, the fitted attributes, prediction.

A fitted estimator holds its coefficients and a small
:class:`~fastgd.solvers.SolverState`, never the data. Every call reads the
parameters again. A call that fails (bad data, divergence) changes nothing:
the solver works on a copy of the state and the fitted attributes are
replaced together, only at the end of a successful call.
"""

import dataclasses
import numbers

import numpy as np

from .. import _threads, losses, passes
from .._params import ParamsMixin
from .._validation import check_sample_weight, check_target, unique_labels
from ..data.base import block_output
from ..data.dataset import Dataset
from ..data.open import prediction_data, target_name, training_data
from ..data.subset import split
from ..exceptions import DataWarning, NotFittedError, compatible, warn_caller
from ..monitor import flat_parameters
from ..problem import Problem, constant_columns
from ..solvers import exact, resume, solve, start
from ..data.categorical import Coding
from .settings import checked_handle_unknown, settings as checked_settings


class GDBase(ParamsMixin):
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
        standardize="auto",
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
        max_categories=10_000,
        handle_unknown="ignore",
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
        self.max_categories = max_categories
        self.handle_unknown = handle_unknown
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
            are the features; a Dask array or DataFrame; or a
            :class:`~fastgd.Dataset` from :func:`~fastgd.open_dataset`, which
            brings its own target and weights.
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
        fit = checked_settings(self)
        with _threads.limited():
            dataset = training_data(X, y, sample_weight, fit.coding)
            warm = fit.warm_start and hasattr(self, "coef_") and self._same_features(dataset)
            if warm:
                dataset = self._aligned(dataset)
            source, classes = self._encoded_source(dataset, None)
            validation = None
            if fit.early_stopping:
                source, held_out = split(source, fit.validation_fraction, self._split_seed())
            problem = self._problem(source, fit, classes, whole=True)
            if fit.early_stopping:
                validation = dataclasses.replace(problem, source=held_out, gram=None)
            raw = self._raw_coefficients() if warm and self._compatible(problem) else None
            state = start(problem, fit.options, raw, whole_fit=True)
            result, state = solve(problem, fit.options, state, validation)
        self._commit(result, state, problem, classes, result.n_iter, result.loss_history)
        if result.interrupted:
            raise KeyboardInterrupt
        return result

    def _partial_fit(self, X, y, sample_weight, classes):
        """One epoch over ``X``, continuing from ``coef_`` (see ``partial_fit``)."""
        fit = checked_settings(self)
        if getattr(self, "class_weight", None) == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: each call sees some of the "
                "rows, so the weights would change from call to call; pass class_weight as a dict"
            )
        continuing = hasattr(self, "coef_")
        if continuing:
            classes = self._same_classes(classes)
        elif self._estimator_type == "classifier":
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = unique_labels(np.asarray(classes), "classes")
        with _threads.limited():
            # A stream keeps the categories of its first call.
            coding = self._fitted_coding(fit.coding.handle_unknown) if continuing else fit.coding
            dataset = training_data(X, y, sample_weight, coding)
            if continuing:
                dataset = self._aligned(dataset, coding)
            source, classes = self._encoded_source(dataset, classes)
            if continuing:
                self._check_n_features(source)
            state = getattr(self, "_state", None)
            problem = self._problem(source, fit, classes, self._kept_coordinates(fit, state), streaming=True)
            if not continuing:
                state = start(problem, fit.options)
            elif state is None:  # loaded from a model file: no solver state, only coefficients
                state = start(problem, fit.options, self._raw_coefficients())
            else:
                state = resume(state, problem, fit.options, self._raw_coefficients())
            result, state = solve(problem, fit.options, state, epochs=1)
            _warn_unknown(source, "partial_fit: the categories of the first call are kept")
        history = np.append(self.loss_history_, result.loss_history) if continuing else result.loss_history
        names = getattr(self, "feature_names_in_", None) if continuing else None
        self._commit(result, state, problem, classes, (self.n_iter_ if continuing else 0) + 1, history, names)
        return self

    def _same_features(self, dataset):
        """Whether ``dataset`` has the fitted features: by name where both have names, else by count."""
        fitted, have = getattr(self, "feature_names_in_", None), dataset.feature_names
        if fitted is not None and have is not None:
            return set(fitted) == set(have) and len(fitted) == len(have)
        return dataset.n_features == self.n_features_in_

    def _aligned(self, dataset, coding=None):
        """``dataset`` with its features in the fitted order, matched by name, and
        coded with ``coding``; a ValueError names the columns that differ. Data
        without names is taken by position."""
        fitted, have = getattr(self, "feature_names_in_", None), dataset.feature_names
        if coding is not None and coding.categories and dataset.coding != coding:
            dataset = dataset.select(list(fitted) if fitted is not None else have, coding)
            have = dataset.feature_names
        if fitted is None or have is None or list(fitted) == list(have):
            return dataset
        missing = [str(n) for n in fitted if n not in have]
        unexpected = [str(n) for n in have if n not in set(fitted)]
        if missing or unexpected:
            raise ValueError(
                f"X has feature names that differ from those seen in the first fit: missing "
                f"{missing or 'none'}, unexpected {unexpected or 'none'}; continue with the same columns"
            )
        return dataset.select(list(fitted), coding)

    def _fitted_coding(self, handle_unknown):
        """The coding of the fitted model's categorical columns."""
        return Coding(getattr(self, "categories_", {}), handle_unknown=handle_unknown)

    def _kept_coordinates(self, fit, state):
        """The standardization a continuing ``partial_fit`` keeps: the state's,
        or a loaded model's; None to measure it (or without ``standardize``)."""
        if not fit.standardize:
            return None
        if state is not None:
            return state.coordinates
        if hasattr(self, "feature_mean_"):
            return self.feature_mean_, self.feature_scale_
        return None

    def _same_classes(self, classes):
        known = getattr(self, "classes_", None)
        if classes is not None and known is not None:
            given = unique_labels(np.asarray(classes), "classes")
            if not np.array_equal(given, known):
                raise ValueError(
                    f"classes={given.tolist()} differ from the classes of the first call to partial_fit, {known.tolist()}"
                )
        return known

    def _problem(self, source, fit, classes, coordinates=None, streaming=False, whole=False):
        """The Problem for ``source``: loss, penalty and, if asked, standardization.

        A ``whole`` fit that the exact solver takes sums its Gram matrix first:
        the standardization comes from it, and the solve takes it (one pass for both).
        """
        loss = fit.loss if classes is None else losses.for_classes(fit.loss, len(classes))
        n_out = len(classes) if loss.multinomial else 1
        problem = Problem(source=source, n_out=n_out, **fit.problem_fields(loss))
        if whole and exact.solves(problem, fit.options):
            problem = dataclasses.replace(problem, gram=exact.gram(problem))
        if not fit.standardize:
            return problem
        if coordinates is None:
            # Centring sparse columns would make every mini-batch step dense
            # (see fastgd.optim.sparse_epoch): those are scaled only.
            lazy = source.sparse and fit.options.batch_size is not None
            coordinates = self._standardization(problem, streaming, source.centrable() if lazy else None)
        return dataclasses.replace(problem, mean=coordinates[0], scale=coordinates[1])

    def _standardization(self, problem, streaming=False, centred=None):
        """Column means and standard deviations from one pass; for columns
        not in the mask ``centred`` (all are, by default), zeros and root mean squares.

        A constant column gets scale 0 (its coefficient stays 0) and a warning;
        in a stream (``partial_fit``), where the first call's rows are not all
        the data, it is only centred and keeps scale 1.
        """
        mean, std, rms = problem.column_moments()
        # Centring without an intercept would change the model: scale only.
        kept = np.full(problem.n_features, problem.fit_intercept) if centred is None else centred & problem.fit_intercept
        center, scale = np.where(kept, mean, 0.0), np.where(kept, std, rms)
        constant = np.flatnonzero(constant_columns(scale, center))
        if constant.size and streaming:
            scale = scale.copy()
            scale[constant] = 1.0
        elif constant.size:
            source = problem.source
            # Sparse data (hashed or one-hot features) has columns that never
            # occur: expected, and their coefficients would stay 0 anyway.
            named = constant[rms[constant] > 0] if source.sparse else constant
            if named.size:
                names = source.feature_names
                listed = ", ".join(repr(names[j]) if names else f"column {j}" for j in named[:10])
                warn_caller(
                    f"{named.size} feature(s) have zero variance: {listed}; their coefficients are fixed at 0",
                    DataWarning,
                )
            scale = scale.copy()
            scale[constant] = 0.0
        return center, scale

    def _commit(self, result, state, problem, classes, n_iter, history, names=None):
        """Replace every fitted attribute at once: nothing of an earlier fit survives.

        ``names`` are the feature names to keep when the data has none (a
        ``partial_fit`` on arrays continuing a fit on named columns).
        """
        fitted = dict(
            coef_=result.coef,
            intercept_=result.intercept,
            n_iter_=n_iter,
            loss_history_=np.asarray(history),
            converged_=result.converged,
            stop_reason_=result.stop_reason,
            optimality_=float(result.optimality[-1]) if len(result.optimality) else float("nan"),
            interrupted_=result.interrupted,
            learning_rate_=result.learning_rate,
            optimizer_=result.optimizer,
            n_features_in_=len(problem.source.input_names or ()) or problem.n_features,
            _state=state,
        )
        if classes is not None:
            fitted["classes_"] = classes
        names = problem.source.input_names if problem.source.input_names is not None else names
        if names is not None:
            fitted["feature_names_in_"] = np.asarray(names, dtype=object)
        categories = getattr(problem.source, "categories", None)
        if categories:
            fitted["categories_"] = dict(categories)
            fitted["_feature_names_out_"] = list(problem.source.feature_names)
        if problem.standardized:
            fitted["feature_mean_"], fitted["feature_scale_"] = problem.center, problem.scale
        if result.validation_loss_history is not None:
            fitted["validation_loss_history_"] = result.validation_loss_history
        for name in [n for n in vars(self) if (n.endswith("_") and not n.startswith("__")) or n == "_state"]:
            delattr(self, name)
        for name, value in fitted.items():
            setattr(self, name, value)

    def _compatible(self, problem):
        return (
            hasattr(self, "coef_")
            and self._n_coefficients() == problem.n_features
            and np.size(self.intercept_) == problem.n_out
            and list(self.get_feature_names_out()) == list(problem.source.feature_names or self.get_feature_names_out())
        )

    def _n_coefficients(self):
        return np.shape(self.coef_)[-1]

    def get_feature_names_out(self, input_features=None):
        """The name of each coefficient: a feature column's name, or ``"column=value"``
        for a category (``"column#bucket"`` for a hashed column)."""
        self._check_fitted()
        names = getattr(self, "_feature_names_out_", None)
        if names is None:
            given = getattr(self, "feature_names_in_", None)
            names = list(given) if given is not None else [f"x{j}" for j in range(self._n_coefficients())]
        return np.asarray(names, dtype=object)

    def _raw_coefficients(self):
        return flat_parameters(self.coef_, self.intercept_)

    def _split_seed(self):
        state = self.random_state
        if isinstance(state, numbers.Integral):
            return int(state)
        return int(np.random.default_rng(state).integers(2**63))

    def _encoded_source(self, dataset, classes):
        """The dataset's source with encoded targets, and the classes (or None)."""
        raw = dataset.source
        encode, reweight, classes = self._target_encoder(raw, target_name(dataset), classes)
        return raw.with_target(encode, reweight), classes

    # -- prediction

    def _decision(self, X):
        """Linear predictor ``X @ coef_.T + intercept_``, as float64: shape ``(n,)``,
        or ``(n, K)`` for a multinomial classifier; a Dask array for Dask data."""
        self._check_fitted()
        n_out = np.size(self.intercept_)
        return self._outputs(X, passes.decision, (n_out,), n_out if n_out > 1 else None, np.float64)

    def _outputs(self, X, fn, args, width, dtype):
        """``fn(rows, theta, *args)`` over the rows of ``X``: shape ``(n,)`` or ``(n, width)``."""
        source = self._prediction_source(X)
        out = source.decision(fn, (self._raw_coefficients(), *args), width, dtype)
        _warn_unknown(source, "they add nothing to the predictions")
        return out

    def _prediction_source(self, X):
        """The target-free source of ``X``, checked against the fitted features."""
        names = getattr(self, "feature_names_in_", None)
        coding = self._fitted_coding(checked_handle_unknown(self.handle_unknown))
        source = prediction_data(X, None if names is None else list(names), coding).source.with_target(None)
        self._check_n_features(source)
        return source

    def _check_n_features(self, source):
        if source.n_features != self._n_coefficients():
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} is expecting "
                f"{self._n_coefficients()} features as input"
            )

    def _decision_blocks(self, X):
        """Yield ``(first_row, decision)`` block by block: bounded memory for big data."""
        self._check_fitted()
        source = self._prediction_source(X)
        theta = self._raw_coefficients()
        n_out = np.size(self.intercept_)
        for block in source.blocks():
            yield block.start, block_output(passes.decision, block, (theta, n_out))
        _warn_unknown(source, "they add nothing to the predictions")

    def _scored(self, X, y, sample_weight):
        """Predictions of ``X``, the true targets and the weights, for ``score``."""
        if isinstance(X, Dataset):
            if y is not None or sample_weight is not None:
                raise ValueError("a Dataset carries its own target and weights; score(dataset) takes no y")
            if X.target is None:
                raise ValueError(f"{X.description} has no target; open it with open_dataset(..., target=column)")
            y, sample_weight = X.source.raw_target_values()
        elif y is None:
            raise ValueError("score requires y to be passed, but the target y is None")
        prediction = np.asarray(self.predict(X))  # a Dask array is computed here
        y = check_target(np.asarray(y), prediction.shape[0])
        w = check_sample_weight(sample_weight, prediction.shape[0])
        return prediction, y, w if w.shape[0] else None

    def save(self, path):
        """Write the fitted model to ``path`` as JSON; :func:`fastgd.load` reads it back."""
        from ..persistence import save

        save(self, path)

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise compatible(NotFittedError)(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )


def _warn_unknown(source, consequence):
    """Warn, with counts, about categories the model has never seen (coded -1)."""
    take = getattr(source, "take_unknown", None)
    counts = take() if take is not None else {}
    if counts:
        listed = ", ".join(f"{count} in {name!r}" for name, count in counts.items())
        warn_caller(f"values of categorical columns the model was not fitted with: {listed}; {consequence}", DataWarning)
