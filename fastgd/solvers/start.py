"""Starting a descent, and continuing one under settings that may have changed."""

import math

import numpy as np

from ..optim import stepsize
from ..optim.rules import RuleState
from .options import SOLVERS
from .state import FistaState, LbfgsState, SolverState

#: Mini-batch and stochastic descent under ``learning_rate="auto"`` take this
#: fraction of ``1 / L_B`` (see :func:`fastgd.optim.stepsize.minibatch_smoothness`).
MINIBATCH_STEP_FRACTION = 0.5

_INNER = {"accelerated": FistaState, "lbfgs": LbfgsState}


def _inner_type(options):
    if options.optimizer == "exact":  # the epochs after the solve: FISTA with L1, else L-BFGS
        return FistaState if options.l1 else LbfgsState
    return _INNER[options.optimizer]


#: The rate key of a state whose automatic rate was not measured: the exact
#: solver takes no steps. Any later descent measures it (the keys differ).
UNMEASURED = ("unmeasured",)


def start(problem, options, raw=None, whole_fit=False):
    """A fresh :class:`SolverState` for ``problem``.

    Parameters start at ``raw`` (data units) when given, else at zero, except
    the intercept of some losses (see
    :meth:`~fastgd.losses.Loss.start_intercept`). A ``whole_fit`` that the exact
    solver will solve does not measure the automatic rate (a few passes).
    """
    if raw is None:
        theta = np.zeros(problem.n_params)
        if problem.fit_intercept:
            theta[problem.n_features] = problem.loss.start_intercept(problem.target_mean)
    else:
        theta = problem.from_data_units(raw)
    from .exact import solves

    if whole_fit and solves(problem, options):
        lr, key = 1.0, UNMEASURED
    else:
        lr, key = base_rate(problem, options, theta)
    return SolverState(
        method=options.optimizer,
        theta=theta,
        inner=_init(options, theta),
        lr=lr,
        rate_key=key,
        rng=np.random.default_rng(options.random_state),
        coordinates=problem.coordinates,
    )


def resume(state, problem, options, raw):
    """Continue ``state`` (a copy of it) from the coefficients ``raw`` the estimator reports.

    Settings are read again: a changed optimizer starts its own fresh state
    at the current coefficients, a changed rate or momentum takes effect, and
    the automatic rate is measured again when what it depends on changed. The
    method's state is kept only while the estimator's coefficients are still
    the ones this state reported (not edited, loaded from a file, or restored
    by early stopping) and in the same coordinates; otherwise the descent
    restarts from the coefficients. An averaging rule continues from its
    average, which is what it reported.
    """
    state = state.copy()
    same = (
        state.reported is not None
        and state.reported.shape == raw.shape
        and np.array_equal(state.reported, raw)
        and _same_coordinates(state.coordinates, problem.coordinates)
    )
    if not same:
        state.theta = problem.from_data_units(raw)
        state.inner = _init(options, state.theta)
    elif state.method != options.optimizer or not _belongs(state.inner, options, problem.n_params):
        state.theta = state.solution()
        state.inner = _init(options, state.theta)
    elif options.rule is not None and options.rule.averaging:
        state.theta = state.solution()
        state.inner.restart_average()
    state.method = options.optimizer
    state.coordinates = problem.coordinates
    if options.learning_rate != "auto" or state.rate_key != rate_key(problem, options):
        state.lr, state.rate_key = base_rate(problem, options, state.theta)
    return state


def _init(options, theta):
    rule = options.rule
    return rule.init(theta.shape[0]) if rule is not None else _inner_type(options).init(theta)


def _belongs(inner, options, n_params):
    rule = options.rule
    if rule is not None:
        return isinstance(inner, RuleState) and inner.belongs_to(rule, n_params)
    return isinstance(inner, _inner_type(options)) and inner.belongs_to(n_params)


def _same_coordinates(a, b):
    if a is None or b is None:
        return a is None and b is None
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def rate_key(problem, options):
    """What the automatic rate depends on besides the data."""
    rule = options.rule
    return (
        options.batch_size, options.optimizer, options.momentum if rule is not None and rule.momentum else None,
        problem.loss.name, problem.n_out, problem.fit_intercept, problem.standardized,
    )


def base_rate(problem, options, theta):
    """The learning rate before schedules, and the key of what it was measured for.

    A given rate is used as it is (key None). The automatic one is ``1/L`` in
    full batch, ``MINIBATCH_STEP_FRACTION / L_B`` for mini-batches; times
    ``1 - momentum`` for momentum rules (their steps add up to
    ``1 / (1 - momentum)`` gradients); times the RMS of the gradient at
    ``theta`` for adaptive rules, whose steps are about ``lr`` per coordinate,
    so their first step is as long as plain descent's. L-BFGS searches its own
    steps.
    """
    if options.learning_rate != "auto":
        return options.learning_rate, None
    key = rate_key(problem, options)
    fista = options.optimizer == "accelerated" or (options.optimizer == "exact" and options.l1)
    if options.optimizer in SOLVERS and not fista:  # L-BFGS searches its steps
        return 1.0, key
    lipschitz = problem.lipschitz()
    if options.full_batch:
        rate = _inverse(lipschitz)
    else:
        extremes = problem.row_extremes()
        smoothness = stepsize.minibatch_smoothness(
            lipschitz, problem.lipschitz_max(extremes), options.batch_size
        )
        rate = MINIBATCH_STEP_FRACTION * _inverse(smoothness)
    rule = options.rule
    if rule is not None and rule.momentum:
        rate *= 1.0 - options.momentum
    elif rule is not None and rule.adaptive:
        grad = problem.gradient(problem.sums(theta), "estimating the step size")
        rms = math.sqrt(float(np.mean(grad[problem.weights[2] > 0] ** 2)))
        rate *= rms if rms > 0 else 1.0
    return rate, key


def _inverse(lipschitz):
    return 1.0 / lipschitz if lipschitz > 0 else 1.0
