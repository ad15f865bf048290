"""Estimator parameters, checked once per call: what ``fit`` and ``partial_fit`` read."""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .. import losses
from .._validation import check_boolean, check_integer, check_real
from ..data.categorical import HANDLE_UNKNOWN, Coding
from ..optim.rules import RULES
from ..solvers import SCHEDULES, SOLVERS, Options

PENALTIES = (None, "l2", "l1", "elasticnet")
OPTIMIZERS = ("auto",) + tuple(RULES) + SOLVERS
SHUFFLES = ("exact", "block")
#: ``tol="auto"``, relative to the optimality measure at the starting model
#: (see :mod:`fastgd.optimality`): full-batch epochs are exact and cheap, so
#: solve to near the precision of float64 sums; mini-batch descent reaches
#: the optimum only as closely as its noise allows.
TOL_FULL_BATCH = 1e-7
TOL_MINIBATCH = 5e-4

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


@dataclass(frozen=True)
class Settings:
    """Every parameter of an estimator, checked: what one call of ``fit`` uses."""

    loss: losses.Loss
    loss_param: float
    l2: float
    l1: float
    fit_intercept: bool
    standardize: bool
    early_stopping: bool
    validation_fraction: float
    warm_start: bool
    options: Options
    #: How categorical columns are coded (their mapping comes from the data).
    coding: Coding

    def problem_fields(self, loss=None):
        """Keyword arguments of :class:`~fastgd.problem.Problem` (``loss`` may be the multinomial one)."""
        return dict(
            loss=loss or self.loss, loss_param=self.loss_param, l2=self.l2, l1=self.l1,
            fit_intercept=self.fit_intercept,
        )


def settings(estimator):
    """Check every parameter of ``estimator``; a TypeError or ValueError names the first bad one."""
    names = estimator._LOSSES
    if estimator.loss not in names:
        raise ValueError(
            f"unknown loss {estimator.loss!r} for {type(estimator).__name__}; "
            f"choose one of {', '.join(map(repr, names))}"
        )
    loss = losses.REGISTRY[estimator.loss]
    penalty = estimator.penalty
    if penalty not in PENALTIES:
        raise ValueError(f"unknown penalty {penalty!r}; choose one of {', '.join(map(repr, PENALTIES))}")
    reals = {
        name: check_real(getattr(estimator, name), name, low, high, low_open, high_open)
        for name, low, high, low_open, high_open in _REALS
    }
    alpha = reals["alpha"] if penalty is not None else 0.0
    l1_share = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": reals["l1_ratio"]}[penalty]
    batch_size = estimator.batch_size
    if batch_size is not None:
        batch_size = check_integer(batch_size, "batch_size", low=1)
    learning_rate = _learning_rate(estimator.learning_rate)
    optimizer = _optimizer(estimator.optimizer, batch_size, loss, alpha * l1_share > 0, learning_rate)
    schedule = _schedule(estimator.schedule, batch_size, optimizer, loss)
    line_search = check_boolean(estimator.line_search, "line_search")
    if line_search and (batch_size is not None or optimizer not in ("sgd", "accelerated", "lbfgs")):
        raise ValueError(
            "line_search=True needs full-batch descent (batch_size=None) with optimizer "
            "'sgd', 'accelerated' or 'lbfgs'"
        )
    if optimizer == "lbfgs" and l1_share > 0 and alpha > 0:
        raise ValueError(f"optimizer='lbfgs' needs a smooth penalty (None or 'l2'), got penalty={penalty!r}")
    if optimizer == "lbfgs" and not loss.smooth:
        raise ValueError(f"optimizer='lbfgs' needs a smooth loss, got loss={loss.name!r}")
    if optimizer == "exact" and loss.name != "squared_error":
        raise ValueError(f"optimizer='exact' solves least squares (loss='squared_error'), got loss={loss.name!r}")
    class_weight = getattr(estimator, "class_weight", None)
    if not (class_weight is None or class_weight == "balanced" or isinstance(class_weight, dict)):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
    tol = _tol(estimator.tol, batch_size, loss)
    early_stopping = check_boolean(estimator.early_stopping, "early_stopping")
    if early_stopping and tol is None:
        raise ValueError("early_stopping=True needs a tol (a number or 'auto'), got tol=None")
    options = Options(
        batch_size=batch_size,
        learning_rate=learning_rate,
        optimizer=optimizer,
        schedule=schedule,
        line_search=line_search,
        max_iter=check_integer(estimator.max_iter, "max_iter", low=1),
        tol=tol,
        # One batch of every row has the exact gradient: nothing to excuse a loose tol.
        whole_batch_tol=TOL_FULL_BATCH if batch_size is not None and _is_auto(estimator.tol) else None,
        n_iter_no_change=check_integer(estimator.n_iter_no_change, "n_iter_no_change", low=1),
        shuffle=_shuffle(estimator.shuffle),
        shuffle_buffer=_shuffle_buffer(estimator.shuffle_buffer),
        random_state=_random_state(estimator.random_state),
        verbose=check_integer(estimator.verbose, "verbose", low=0),
        momentum=reals["momentum"],
        beta1=reals["beta1"],
        beta2=reals["beta2"],
        eps=reals["eps"],
        power_t=reals["power_t"],
        lr_decay=reals["lr_decay"],
        plateau_factor=reals["plateau_factor"],
        callbacks=_callbacks(estimator.callbacks),
        # A given rate asks for gradient descent: "auto" then never solves exactly.
        auto=estimator.optimizer == "auto" and learning_rate == "auto" and optimizer in ("lbfgs", "accelerated"),
        l1=alpha * l1_share > 0,
    )
    return Settings(
        loss=loss,
        loss_param=reals["epsilon"],
        l2=alpha * (1.0 - l1_share),
        l1=alpha * l1_share,
        fit_intercept=check_boolean(estimator.fit_intercept, "fit_intercept"),
        standardize=_standardize(estimator.standardize),
        early_stopping=early_stopping,
        validation_fraction=reals["validation_fraction"],
        warm_start=check_boolean(estimator.warm_start, "warm_start"),
        options=options,
        coding=Coding(
            max_categories=check_integer(estimator.max_categories, "max_categories", low=1),
            handle_unknown=checked_handle_unknown(estimator.handle_unknown),
        ),
    )


def checked_handle_unknown(handle_unknown):
    if handle_unknown not in HANDLE_UNKNOWN:
        raise ValueError(
            f"handle_unknown must be one of {', '.join(map(repr, HANDLE_UNKNOWN))}, got {handle_unknown!r}"
        )
    return handle_unknown


def _optimizer(optimizer, batch_size, loss, l1, learning_rate):
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(map(repr, OPTIMIZERS))}")
    if optimizer == "auto":
        # Fastest measured to a tight optimum: L-BFGS on smooth problems, FISTA
        # with an L1 penalty (or a given learning_rate, which L-BFGS would
        # not use), subgradient descent on the hinge's kink.
        if batch_size is not None:
            return "asgd"
        if not loss.smooth:
            return "sgd"
        return "accelerated" if l1 or learning_rate != "auto" else "lbfgs"
    if optimizer in SOLVERS and batch_size is not None:
        raise ValueError(
            f"optimizer={optimizer!r} needs full-batch descent (batch_size=None), got batch_size={batch_size}"
        )
    return optimizer


def _schedule(schedule, batch_size, optimizer, loss):
    if isinstance(schedule, str) and schedule == "auto":
        # Steps that settle on their own keep a constant rate; the rest
        # (noisy gradients, momentum, adaptive or non-smooth steps) halve it
        # each time the objective stalls.
        settled = batch_size is None and optimizer in ("accelerated", "sgd", "lbfgs", "exact")
        return "constant" if settled and loss.smooth else "plateau"
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(
            f"unknown schedule {schedule!r}; choose one of {', '.join(map(repr, ('auto',) + SCHEDULES))}"
        )
    return schedule


def _learning_rate(learning_rate):
    if isinstance(learning_rate, str):
        if learning_rate == "auto":
            return learning_rate
        raise ValueError(f"learning_rate must be 'auto' or a positive number, got {learning_rate!r}")
    return check_real(learning_rate, "learning_rate", low=0.0, low_open=True)


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _tol(tol, batch_size, loss):
    if _is_auto(tol):
        return TOL_MINIBATCH if batch_size is not None else TOL_FULL_BATCH
    if tol is None:
        return None
    if isinstance(tol, str):
        raise ValueError(f"tol must be 'auto', None or a number >= 0, got {tol!r}")
    return check_real(tol, "tol", low=0.0)


def _standardize(standardize):
    if isinstance(standardize, str) and standardize == "auto":
        return True  # the objective and coef_'s units do not change; descent stops crawling
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be 'auto', True or False, got {standardize!r}")
    return bool(standardize)


def _random_state(random_state):
    if random_state is not None and not isinstance(
        random_state, (numbers.Integral, np.random.Generator, np.random.SeedSequence)
    ):
        raise TypeError(
            "random_state must be None, an int, a numpy Generator or SeedSequence, "
            f"got {type(random_state).__name__}"
        )
    return random_state


def _shuffle(shuffle):
    if isinstance(shuffle, str):
        if shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be True, False, 'exact' or 'block', got {shuffle!r}")
        return shuffle
    return check_boolean(shuffle, "shuffle")


def _shuffle_buffer(shuffle_buffer):
    if isinstance(shuffle_buffer, str) and shuffle_buffer == "auto":
        return None
    return check_integer(shuffle_buffer, "shuffle_buffer", low=1)


def _callbacks(callbacks):
    if callbacks is None:
        return ()
    callbacks = tuple(callbacks) if isinstance(callbacks, (list, tuple)) else (callbacks,)
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(
                f"callbacks must be a callable or a list of callables, got {type(callback).__name__}"
            )
    return callbacks
