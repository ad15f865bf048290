"""The epoch loop: blocks -> fused kernel -> optimizer step, with stopping rules.

Python runs once per epoch (schedules, ``tol``, divergence, early stopping,
callbacks, logging); everything per row or per mini-batch runs in compiled
code.
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from ._config import SHUFFLE_BUFFER_BLOCKS
from ._validation import readonly
from .data.base import ALL_ROWS
from .data.dask import partition_source
from .data.shuffle import ONE_UNIT, EpochPlan
from .exceptions import ConvergenceWarning
from .monitor import PLATEAU, STOP, Monitor, coefficients, enable_logging

#: What the epoch loops do after an epoch (see :func:`_after_epoch`).
CUT = "cut"
from .optim import rules, stepsize
from .optim.epoch import minibatch_epoch

#: Mini-batch and stochastic descent under ``learning_rate="auto"`` take this
#: fraction of ``1 / L_B`` (see :func:`fastgd.optim.stepsize.minibatch_smoothness`).
MINIBATCH_STEP_FRACTION = 0.5
#: A full-batch step that raises the objective by more than this (relative)
#: is retaken: without momentum, or, under an adaptive rate, at half the rate.
BACKTRACK_RTOL = 1e-12
#: With ``line_search=True`` each epoch first tries this multiple of the last
#: accepted rate, then halves it until the step decreases enough (Armijo).
LINE_SEARCH_GROWTH = 2.0
#: Curvature pairs L-BFGS keeps, and its sufficient-decrease constant.
LBFGS_MEMORY = 10
ARMIJO = 1e-4
SCHEDULES = ("constant", "invscaling", "exponential", "cosine", "plateau")


@dataclass(frozen=True)
class Options:
    """How to descend: the solver's settings, already validated."""

    batch_size: int | None = None
    learning_rate: float | str = "auto"
    optimizer: int = rules.SGD
    schedule: str = "constant"
    line_search: bool = False
    max_iter: int = 1000
    tol: float | None = 1e-10
    n_iter_no_change: int = 5
    #: True (exact if the source allows random row access, else block),
    #: "exact", "block" or False.
    shuffle: bool | str = True
    #: Rows of the block-shuffle buffer; None for the default.
    shuffle_buffer: int | None = None
    random_state: object = None
    verbose: int = 0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    power_t: float = 0.25
    lr_decay: float = 0.9
    plateau_factor: float = 0.5
    callbacks: tuple = ()

    @property
    def full_batch(self):
        return self.batch_size is None


@dataclass
class State:
    """Where the descent stands; carried across epochs and ``partial_fit`` calls."""

    #: Solver coordinates (in full batch, the point the next pass evaluates).
    theta: np.ndarray
    #: The optimizer's state rows and hyperparameters.
    opt: np.ndarray
    hyper: np.ndarray
    #: The base rate, before schedules.
    lr: float
    rng: np.random.Generator
    t: int = 0
    epochs: int = 0
    #: Accelerated descent: the last proximal point and FISTA's momentum counter.
    previous: np.ndarray | None = None
    momentum: float = 1.0
    #: L-BFGS: the last (step, gradient change) pairs.
    curvature_pairs: list = field(default_factory=list)


@dataclass(frozen=True)
class FitResult:
    """A fitted linear model and how the fit went."""

    coef: np.ndarray
    intercept: float | np.ndarray
    n_iter: int
    loss_history: np.ndarray
    converged: bool
    learning_rate: float
    epoch_times: np.ndarray = field(repr=False, default=None)
    validation_loss_history: np.ndarray | None = None
    classes: np.ndarray | None = None
    #: Stopped by Ctrl-C: the coefficients are those of the last completed epoch.
    interrupted: bool = False


def start(problem, options, theta=None):
    """A fresh :class:`State`: starting parameters, base rate, optimizer state.

    Parameters start at zero, except a Poisson intercept, which starts at
    ``log(mean(y))`` where the curvature is representative.
    """
    if theta is None:
        theta = np.zeros(problem.n_params)
        if problem.loss == kernels.POISSON and problem.fit_intercept:
            mean = problem.target_mean()
            if not mean > 0:
                raise ValueError("loss='poisson' needs a target with a positive mean; all targets are 0")
            theta[problem.n_features] = math.log(mean)
    in_kernel_power = options.power_t if options.schedule == "invscaling" and not options.full_batch else 0.0
    return State(
        theta=theta,
        opt=rules.init(options.optimizer, problem.n_params),
        hyper=rules.hyperparameters(options.momentum, options.beta1, options.beta2, options.eps, in_kernel_power),
        lr=base_rate(problem, options, theta),
        rng=np.random.default_rng(options.random_state),
    )


def base_rate(problem, options, theta):
    """The learning rate before schedules: the given one, or the automatic one.

    Automatic: ``1/L`` in full batch, ``MINIBATCH_STEP_FRACTION / L_B`` for
    mini-batches; times ``1 - momentum`` for momentum rules (their steps
    add up to ``1 / (1 - momentum)`` gradients); times the RMS of the first
    gradient for adaptive rules, whose steps are about ``lr`` per coordinate,
    so their first step is as long as plain descent's.
    """
    if options.learning_rate != "auto" or options.optimizer == rules.LBFGS:
        return 1.0 if options.learning_rate == "auto" else options.learning_rate
    lipschitz = problem.lipschitz()
    if options.full_batch:
        rate = _inverse(lipschitz)
    else:
        extremes = problem.row_extremes()
        smoothness = stepsize.minibatch_smoothness(
            lipschitz, problem.lipschitz_max(extremes), options.batch_size
        )
        rate = MINIBATCH_STEP_FRACTION * _inverse(smoothness)
    if options.optimizer in (rules.MOMENTUM, rules.NESTEROV):
        rate *= 1.0 - options.momentum
    elif options.optimizer in rules.ADAPTIVE:
        grad = _gradient(problem, problem.sums(theta), "estimating the step size")
        rms = math.sqrt(float(np.mean(grad[problem.weights[2] > 0] ** 2)))
        rate *= rms if rms > 0 else 1.0
    return rate


def solve(problem, options, state=None, validation=None):
    """Minimise ``problem``; return the :class:`FitResult` and the final :class:`State`.

    ``state`` continues an earlier descent (``partial_fit``); ``validation``,
    a problem over held-out rows, turns on early stopping.
    """
    if options.verbose:
        enable_logging()
    state = start(problem, options) if state is None else state
    monitor = Monitor(problem, options, state.lr, validation, epoch=state.epochs)
    if not options.full_batch:
        descend = _minibatch
    else:
        descend = _lbfgs if options.optimizer == rules.LBFGS else _full_batch
    interrupted = False
    try:
        theta = descend(problem, options, state, monitor)
    except KeyboardInterrupt:
        if monitor.last_theta is None:
            raise
        theta, interrupted = monitor.last_theta, True
    if monitor.best_theta is not None and not interrupted:
        theta = monitor.best_theta
    if options.tol is not None and not (monitor.converged or monitor.stopped or interrupted):
        warnings.warn(
            f"stopped after max_iter={options.max_iter} epochs before the objective's relative "
            f"improvement fell below tol={options.tol:g}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=4,
        )
    coef, intercept = coefficients(problem, theta)
    result = FitResult(
        coef=coef,
        intercept=intercept,
        n_iter=len(monitor.history),
        loss_history=np.asarray(monitor.history),
        converged=monitor.converged,
        learning_rate=monitor.learning_rate,
        epoch_times=np.asarray(monitor.times),
        validation_loss_history=np.asarray(monitor.validation_history) if validation else None,
        interrupted=interrupted,
    )
    return result, state


def schedule_factor(options, epoch):
    """The rate multiplier of the ``epoch``-th epoch (counting from 1).

    In mini-batch modes ``"invscaling"`` works per step, inside the epoch
    kernel; ``"plateau"`` works by cutting the base rate.
    """
    if options.schedule == "exponential":
        return options.lr_decay ** (epoch - 1)
    if options.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch - 1, options.max_iter) / options.max_iter))
    if options.schedule == "invscaling" and options.full_batch:
        return epoch ** -options.power_t
    return 1.0


def _full_batch(problem, options, state, monitor):
    """One pass and one step per epoch.

    Under ``rules.ACCELERATED`` (FISTA: Nesterov's method with a proximal
    step) each pass is taken at the extrapolated point ``theta + beta *
    (theta - previous)``. The momentum restarts whenever the step opposes it
    (O'Donoghue and Candes' gradient restart) or the objective rises, so
    under the automatic rate the recorded objective, taken at the point that
    is returned, never rises. The velocity of the momentum rules (Adam's
    first moment included) restarts the same way when the objective rises.
    """
    l2w, l1w, _ = problem.weights
    rule = options.optimizer
    accelerated = rule == rules.ACCELERATED
    # Only a plain (proximal) gradient step is sure to lower the objective at a
    # small enough rate; momentum and adaptive steps may rise on the way.
    monotone = rule in (rules.SGD, rules.ASGD, rules.ACCELERATED)
    adaptive_rate = (options.learning_rate == "auto" and monotone) or options.line_search
    point = state.theta
    previous = point if state.previous is None else state.previous
    sums = problem.sums(point)
    problem.check_finite(sums, "evaluating the starting point")
    f = problem.objective(sums, point)
    lr = state.lr
    for _ in range(options.max_iter):
        factor = schedule_factor(options, state.epochs + 1)
        rate = lr * factor * (LINE_SEARCH_GROWTH if options.line_search else 1.0)
        grad = _gradient(problem, sums)
        use_momentum = accelerated
        while True:
            new, new_opt = point.copy(), state.opt.copy()
            rules.update(rule, new, grad, new_opt, state.t + 1, rate, state.hyper, l2w, l1w)
            new_sums = None
            if options.line_search:
                # The proximal-gradient sufficient decrease on the smooth part.
                new_sums = problem.sums(new)
                problem.check_finite(new_sums, "descending", rate)
                step = new - point
                smooth = f - problem.penalty(point)
                bound = smooth + grad @ step + step @ step / (2.0 * rate)
                new_smooth = problem.objective(new_sums, new) - problem.penalty(new)
                if new_smooth > bound + BACKTRACK_RTOL * abs(f) and rate > 1e-300:
                    rate *= 0.5
                    continue
            beta, next_momentum = 0.0, 1.0
            if use_momentum and (point - new) @ (new - previous) <= 0.0:
                next_momentum = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state.momentum**2))
                beta = (state.momentum - 1.0) / next_momentum
            new_point = new + beta * (new - previous) if beta else new
            if new_sums is None or beta:
                new_sums = problem.sums(new_point)
                problem.check_finite(new_sums, "descending", rate)
            new_f = problem.objective(new_sums, new_point)
            if new_f > f + BACKTRACK_RTOL * abs(f):
                if beta:
                    use_momentum = False  # restart: retake the step without momentum
                    continue
                velocity = rules.VELOCITY.get(rule)
                if velocity is not None and np.any(state.opt[velocity]):
                    state.opt[velocity] = 0.0  # restart the velocity and retake the step
                    continue
                if adaptive_rate and rate > 1e-300:
                    # A plain step at rate 1/L cannot raise a smooth objective:
                    # L was underestimated (or the loss is not smooth), so
                    # halve the rate and retake the step.
                    rate *= 0.5
                    continue
            break
        if adaptive_rate:
            lr = rate / factor
            monitor.learning_rate = lr
        previous, point, sums, f = new, new_point, new_sums, new_f
        state.theta, state.previous, state.opt, state.momentum = point, previous, new_opt, next_momentum
        state.t += 1
        state.epochs += 1
        reported = point if accelerated else rules.solution(rule, point, state.opt, state.t, state.hyper)
        action = _after_epoch(monitor, options, f, reported)
        if action == STOP:
            break
        if action == CUT:
            lr *= options.plateau_factor
            monitor.learning_rate = lr
            state.momentum = 1.0
    state.lr = lr
    return point if accelerated else rules.solution(rule, point, state.opt, state.t, state.hyper)


def _lbfgs(problem, options, state, monitor):
    """Limited-memory BFGS: one pass per step when the full step is accepted.

    The direction comes from the two-loop recursion over the last
    ``LBFGS_MEMORY`` pairs of steps and gradient changes; the step length
    from backtracking until the Armijo condition holds (each trial one
    pass). The penalty, smooth here (L2 only), is part of objective and
    gradient.
    """
    l2w = problem.weights[0]
    theta = state.theta
    sums = problem.sums(theta)
    problem.check_finite(sums, "evaluating the starting point")
    f = problem.objective(sums, theta)
    grad = _gradient(problem, sums) + l2w * theta
    pairs = state.curvature_pairs
    for _ in range(options.max_iter):
        direction = -_two_loop(grad, pairs, l2w)
        slope = float(grad @ direction)
        if slope >= 0.0:  # not a descent direction: forget the curvature pairs
            pairs.clear()
            direction, slope = -grad, -float(grad @ grad)
        step = 1.0 if pairs else min(1.0, 1.0 / max(np.abs(grad).sum(), 1e-300))
        while True:
            new = theta + step * direction
            new_sums = problem.sums(new)
            problem.check_finite(new_sums, "descending", step)
            new_f = problem.objective(new_sums, new)
            if new_f <= f + ARMIJO * step * slope or step < 1e-20:
                break
            step *= 0.5
        new_grad = _gradient(problem, new_sums) + l2w * new
        s, yk = new - theta, new_grad - grad
        if yk @ s > 1e-12 * (s @ s):
            pairs.append((s, yk))
            del pairs[:-LBFGS_MEMORY]
        theta, grad, f = new, new_grad, new_f
        state.theta = theta
        state.t += 1
        state.epochs += 1
        if _after_epoch(monitor, options, f, theta) == STOP:
            break
    return theta


def _two_loop(grad, pairs, l2w):
    """The L-BFGS product of the inverse-Hessian estimate with ``grad``.

    The starting estimate is diagonal, ``1 / (c + l2w)``: the penalty's
    curvature is known exactly, and standardization can make it very uneven
    across coordinates; ``c`` estimates the data's from the last pair.
    """
    q = grad.copy()
    alphas = []
    for s, y in reversed(pairs):
        alpha = (s @ q) / (y @ s)
        q -= alpha * y
        alphas.append(alpha)
    if pairs:
        s, y = pairs[-1]
        data = y - l2w * s
        curvature = (data @ data) / (s @ data) if s @ data > 0 else (y @ y) / (s @ y)
        q /= curvature + l2w
    for (s, y), alpha in zip(pairs, reversed(alphas)):
        q += (alpha - (y @ q) / (y @ s)) * s
    return q


def _minibatch(problem, options, state, monitor):
    """One compiled call per epoch (per shuffle buffer for streamed data, per
    partition for Dask)."""
    source = problem.source
    rule = options.optimizer
    weight_sum = problem.row_extremes()[1] if source.weighted else float(source.n_rows)
    theta = state.theta
    raw = problem.raw(theta).copy() if problem.standardized else theta
    # Everything the epoch kernel needs besides the rows, the parameters, the
    # optimizer state, the step count and the rate.
    settings = (
        options.batch_size, problem.loss, problem.loss_param, problem.n_out, rule, *problem.weights,
        source.n_rows / weight_sum, problem.center, problem.inv_scale, problem.standardized,
    )
    epoch = _distributed_epoch if source.distributed else _local_epoch(source, options)
    lr = state.lr
    for _ in range(options.max_iter):
        if state.epochs == 1 and math.isinf(state.hyper[rules.AVERAGE_START]):
            state.hyper[rules.AVERAGE_START] = state.t  # average from the second epoch on
        rate = lr * schedule_factor(options, state.epochs + 1)
        loss_sum, weight_total = epoch(source, options, state, theta, raw, rate, settings)
        state.epochs += 1
        problem.check_finite(theta, "descending", rate)
        reported = rules.solution(rule, theta, state.opt, state.t, state.hyper)
        action = _after_epoch(monitor, options, loss_sum / weight_total + problem.penalty(reported), reported)
        if action == STOP:
            break
        if action == CUT:
            # Constant-step SGD hovers around the optimum at a distance that
            # shrinks with the step: cut it, and restart the average from the
            # current one.
            lr *= options.plateau_factor
            monitor.learning_rate = lr
            theta[:] = reported
            if problem.standardized:
                raw[:] = problem.raw(theta)
            if rules.averaging(rule, state.t, state.hyper):
                state.hyper[rules.AVERAGE_START] = state.t
    state.lr = lr
    return rules.solution(rule, theta, state.opt, state.t, state.hyper)


def _local_epoch(source, options):
    """The epoch runner of a source read in this process, through its shuffle plan."""
    shuffle = options.shuffle
    if shuffle is True:
        shuffle = "exact" if source.random_access else "block"
    buffer_rows = options.shuffle_buffer or SHUFFLE_BUFFER_BLOCKS * source.piece_rows
    plan = EpochPlan(source, shuffle or None, buffer_rows)

    def epoch(source, options, state, theta, raw, rate, settings):
        batch_size, loss, param, n_out, rule, l2w, l1w, mask, inv_mean_weight, center, inv_scale, standardized = settings
        loss_sum = weight_total = 0.0
        for X, y, w, order, bounds in plan.units(state.rng):
            unit_loss, unit_weight, state.t = minibatch_epoch(
                X, y, w, order, bounds, batch_size, loss, param, n_out, theta, raw, state.opt, state.t,
                rule, rate, state.hyper, l2w, l1w, mask, inv_mean_weight, center, inv_scale, standardized,
            )
            loss_sum += unit_loss
            weight_total += unit_weight
        return loss_sum, weight_total

    return epoch


def _distributed_epoch(source, options, state, theta, raw, rate, settings):
    """An epoch over a Dask source: partitions in a seeded random order, rows
    shuffled inside each on its worker; the parameters and the optimizer state
    travel from partition to partition, in one graph per epoch."""
    n = source.n_partitions
    order = state.rng.permutation(n) if options.shuffle else np.arange(n)
    seeds = state.rng.integers(2**63, size=n) if options.shuffle else np.full(n, -1)
    carry = (theta, raw, state.opt, state.t, 0.0, 0.0)
    new_theta, new_raw, opt, state.t, loss_sum, weight_total = source.chain(
        partition_epoch, carry, order, seeds, (rate, state.hyper, settings)
    )
    theta[:] = new_theta
    raw[:] = new_raw
    state.opt[...] = opt
    return loss_sum, weight_total


def partition_epoch(X, y, w, carry, seed, rate, hyper, settings):
    """Mini-batches over one Dask partition, on its worker; returns the new carry.

    Works on copies: a retried task must start from the same state.
    """
    theta, raw, opt, t, loss_sum, weight_total = carry
    batch_size, loss, param, n_out, rule, l2w, l1w, mask, inv_mean_weight, center, inv_scale, standardized = settings
    theta, opt = theta.copy(), opt.copy()
    raw = raw.copy() if standardized else theta
    block = partition_source(X, y, w).rows()
    order = ALL_ROWS if seed < 0 else readonly(np.random.default_rng(seed).permutation(block.X.shape[0]))
    unit_loss, unit_weight, t = minibatch_epoch(
        block.X, block.y, block.w, order, ONE_UNIT, batch_size, loss, param, n_out, theta, raw, opt, t,
        rule, rate, hyper, l2w, l1w, mask, inv_mean_weight, center, inv_scale, standardized,
    )
    return theta, raw, opt, t, loss_sum + unit_loss, weight_total + unit_weight


def _after_epoch(monitor, options, objective, theta):
    """Record an epoch; return STOP, CUT (the rate, on a plateau) or None.

    A plateau cuts the rate under the ``"plateau"`` schedule as long as the
    previous cut helped; otherwise the fit has converged.
    """
    event = monitor.record(objective, theta)
    if event == PLATEAU:
        if options.schedule == "plateau" and monitor.next_stage():
            return CUT
        monitor.converged = True
        return STOP
    return STOP if event == STOP else None


def _gradient(problem, sums, doing="descending"):
    """The mean loss's gradient in solver coordinates, from pass sums."""
    problem.check_finite(sums, doing)
    grad = np.empty(problem.n_params)
    rules.gradient(sums, 1.0 / sums[problem.n_params + 1], problem.weights[2], grad)
    return grad


def _inverse(lipschitz):
    return 1.0 / lipschitz if lipschitz > 0 else 1.0
