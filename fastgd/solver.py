"""The epoch loop: blocks -> fused kernel -> optimizer step, with stopping rules.

Python runs once per epoch (progress, ``tol``, divergence checks, logging);
everything per row or per mini-batch runs in compiled code.
"""

import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from ._config import CHUNK_ROWS
from ._config import SHUFFLE_BUFFER_BLOCKS
from ._validation import first_nonfinite
from .data.base import ALL_ROWS
from .data.shuffle import EpochPlan
from .exceptions import ConvergenceWarning, DivergenceError
from .kernels import column_stats, full_pass
from .optim import rules, stepsize
from .optim.epoch import minibatch_epoch

log = logging.getLogger("fastgd")


#: A full-batch step under the automatic rate that raises the objective by more
#: than this (relative) halves the rate and is taken again.
_BACKTRACK_RTOL = 1e-12
#: The objective scale that ``tol`` applies to never falls below this fraction
#: of the first epoch's objective.
_TOL_FLOOR = 1e-10
#: Epochs in a row the objective must rise, ending at least twice its best,
#: before the solver calls it divergence.
_DIVERGENCE_EPOCHS = 5
#: Mini-batch and stochastic descent under ``learning_rate="auto"`` take this
#: fraction of ``1 / L_B`` (see :func:`fastgd.optim.stepsize.minibatch_smoothness`).
MINIBATCH_STEP_FRACTION = 0.5
#: The ``"plateau"`` schedule multiplies the rate by this when the objective
#: stalls for ``n_iter_no_change`` epochs.
PLATEAU_FACTOR = 0.5


@dataclass(frozen=True)
class Problem:
    """What to minimise: data, loss and penalty. Holds no solver state.

    The objective is ``sum(s_i * loss(x_i @ w + b, y_i)) / sum(s_i)
    + l2 / 2 * ||w||**2 + l1 * ||w||_1`` over the rows ``(x_i, y_i, s_i)`` of
    ``source``.
    """

    source: object
    loss: int
    l2: float = 0.0
    l1: float = 0.0
    fit_intercept: bool = True

    @property
    def n_features(self):
        return self.source.n_features

    def sums(self, theta, loss=None):
        """Gradient, loss and weight sums over every block: ``(d + 3,)`` array."""
        loss = self.loss if loss is None else loss
        total = np.zeros(self.n_features + 3)
        for block in self.source.blocks():
            total += full_pass(block.X, block.y, block.w, theta, loss, ALL_ROWS, CHUNK_ROWS)
        return total

    def penalty(self, theta):
        w = theta[:-1]
        with np.errstate(over="ignore"):  # a diverging fit is reported, not warned about
            return 0.5 * self.l2 * float(w @ w) + self.l1 * float(np.abs(w).sum())

    def objective(self, sums, theta):
        d = self.n_features
        return sums[d + 1] / sums[d + 2] + self.penalty(theta)

    def bad_data(self):
        """A message naming the first NaN or infinity in the data, or None."""
        return first_nonfinite(self.source.blocks(), self.source.feature_names)

    def lipschitz(self):
        """Lipschitz constant of the objective's smooth gradient, ``L``."""

        def matvec(v):
            total = self.sums(v, kernels.GRAM)
            self._check_finite(total, "estimating the step size")
            d = self.n_features
            return total[: d + 1] / total[d + 2]

        eig = stepsize.top_eigenvalue(matvec, self.n_features + 1, self.fit_intercept)
        return kernels.CURVATURE[self.loss] * eig + self.l2

    def row_extremes(self):
        """``(max_i s_i ||x_i||**2, sum_i s_i, max_i s_i)`` in one pass."""
        norm_max = weight_sum = weight_max = 0.0
        shift = None
        for block in self.source.blocks():
            if shift is None:
                shift = block.X[0].astype(np.float64)
            _, extremes = column_stats(block.X, block.w, shift, CHUNK_ROWS)
            norm_max = max(norm_max, extremes[0])
            weight_sum += extremes[1]
            weight_max = max(weight_max, extremes[2])
        self._check_finite(norm_max, "measuring the rows")
        return norm_max, weight_sum, weight_max

    def lipschitz_max(self, extremes):
        """Largest per-row Lipschitz constant ``L_max``, relative to the mean weight."""
        norm_max, weight_sum, weight_max = extremes
        row_max = norm_max + (weight_max if self.fit_intercept else 0.0)
        mean_weight = weight_sum / self.source.n_rows
        return kernels.CURVATURE[self.loss] * row_max / mean_weight + self.l2

    def _check_finite(self, values, doing, learning_rate=None):
        if np.all(np.isfinite(values)):
            return
        bad = self.bad_data()
        if bad is not None:
            raise ValueError(f"{bad}; remove or impute non-finite values before fitting")
        if learning_rate is None:
            raise ValueError(
                f"the objective overflowed while {doing}; the data values are too large, "
                "scale them down"
            )
        raise DivergenceError(
            f"the objective became non-finite with learning_rate={learning_rate:.6g}; "
            f"try a smaller learning_rate (e.g. {learning_rate / 10:.3g}) or learning_rate='auto'"
        )


@dataclass(frozen=True)
class Options:
    """How to descend: the solver's settings, already validated."""

    batch_size: int | None = None
    learning_rate: float | str = "auto"
    optimizer: int = rules.SGD
    schedule: str = "constant"
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


@dataclass(frozen=True)
class FitResult:
    """A fitted linear model and how the fit went."""

    coef: np.ndarray
    intercept: float
    n_iter: int
    loss_history: np.ndarray
    converged: bool
    learning_rate: float
    epoch_times: np.ndarray = field(repr=False, default=None)
    classes: np.ndarray | None = None


class _Monitor:
    """Per-epoch bookkeeping: history, logging, the ``tol`` rule and divergence."""

    def __init__(self, problem, options, learning_rate, n_rows):
        self.problem = problem
        self.options = options
        self.learning_rate = learning_rate
        self.n_rows = n_rows
        self.history = []
        self.times = []
        self.best = math.inf
        self.stage_best = math.inf
        self.stalled = 0
        self.rises = 0
        self.converged = False
        self._clock = time.perf_counter()

    def record(self, objective):
        """Record one epoch's objective; return True once it has plateaued.

        A plateau is ``n_iter_no_change`` epochs in a row that do not improve
        on the best objective by more than ``tol`` (relative).
        """
        now = time.perf_counter()
        elapsed, self._clock = now - self._clock, now
        if not math.isfinite(objective):
            self.problem._check_finite(objective, "descending", self.learning_rate)
        previous = self.history[-1] if self.history else math.inf
        self.history.append(objective)
        self.times.append(elapsed)
        if self.options.verbose:
            log.info(
                "epoch %d: objective %.10g, %.3f s, %.3g rows/s",
                len(self.history), objective, elapsed, self.n_rows / max(elapsed, 1e-12),
            )
        self.rises = self.rises + 1 if objective > previous else 0
        if self.rises >= _DIVERGENCE_EPOCHS and objective - self.best > abs(self.best):
            raise DivergenceError(
                f"the objective rose for {self.rises} epochs in a row, from {self.best:.6g} to "
                f"{objective:.6g}, with learning_rate={self.learning_rate:.6g}; try a smaller "
                f"learning_rate (e.g. {self.learning_rate / 10:.3g}) or learning_rate='auto'"
            )
        if self.options.tol is None:
            return False
        self.stalled = 0 if self._improves(objective, self.best) else self.stalled + 1
        self.best = min(self.best, objective)
        # An objective that keeps rising has not converged; let it run into
        # the divergence rule above.
        rising = self.rises >= min(self.options.n_iter_no_change, _DIVERGENCE_EPOCHS)
        return self.stalled >= self.options.n_iter_no_change and not rising

    def next_stage(self):
        """Close a plateau; return whether the objective improved since the last one."""
        gained = self._improves(self.best, self.stage_best)
        self.stage_best = self.best
        self.stalled = 0
        return gained

    def _improves(self, objective, reference):
        # Relative to the reference, but never to less than a sliver of the
        # first objective: on an exact fit the objective falls to 0 at a
        # steady relative rate, and the fit is done once it is negligible.
        if reference == math.inf:
            return True
        scale = max(abs(reference), _TOL_FLOOR * abs(self.history[0]))
        return objective < reference - self.options.tol * scale


def solve(problem, options):
    """Minimise ``problem`` by gradient descent; return a :class:`FitResult`."""
    if options.verbose:
        _enable_logging()
    n_rows = problem.source.n_rows
    if options.batch_size is None or options.batch_size >= n_rows:
        theta, monitor = _full_batch(problem, options)
    else:
        theta, monitor = _minibatch(problem, options)
    if options.tol is not None and not monitor.converged:
        warnings.warn(
            f"stopped after max_iter={options.max_iter} epochs before the objective's relative "
            f"improvement fell below tol={options.tol:g}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    d = problem.n_features
    return FitResult(
        coef=theta[:d],
        intercept=float(theta[d]),
        n_iter=len(monitor.history),
        loss_history=np.asarray(monitor.history),
        converged=monitor.converged,
        learning_rate=monitor.learning_rate,
        epoch_times=np.asarray(monitor.times),
    )


def _full_batch(problem, options):
    """One pass and one step per epoch.

    Under ``rules.ACCELERATED`` (FISTA: Nesterov's method with a proximal
    step) each pass is taken at the extrapolated point ``point = theta +
    beta * (theta - theta_prev)``. The momentum restarts whenever the step
    opposes it (O'Donoghue and Candes' gradient restart) or the objective
    rises, so the recorded objective, taken at ``point``, never rises under
    the automatic rate, and ``point`` is what the fit returns.
    """
    d = problem.n_features
    auto = options.learning_rate == "auto"
    lr = _inverse(problem.lipschitz()) if auto else options.learning_rate
    rule = options.optimizer
    accelerated = rule == rules.ACCELERATED
    state = rules.init(rule, d + 1)
    hyper = np.zeros(rules.N_HYPER)
    theta = point = np.zeros(d + 1)
    sums = problem.sums(point)
    problem._check_finite(sums, "evaluating the starting point")
    f = problem.objective(sums, point)
    grad = np.empty(d + 1)
    momentum = 1.0
    monitor = _Monitor(problem, options, lr, problem.source.n_rows)
    for t in range(1, options.max_iter + 1):
        rules.gradient(sums, 1.0 / sums[d + 2], point, problem.l2, problem.fit_intercept, grad)
        use_momentum = accelerated
        while True:
            new, new_state = point.copy(), state.copy()
            rules.update(rule, new, grad, new_state, t, lr, hyper, problem.l1)
            beta, next_momentum = 0.0, 1.0
            if use_momentum and (point - new) @ (new - theta) <= 0.0:
                next_momentum = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * momentum * momentum))
                beta = (momentum - 1.0) / next_momentum
            new_point = new + beta * (new - theta) if beta else new
            new_sums = problem.sums(new_point)
            problem._check_finite(new_sums, "descending", lr)
            new_f = problem.objective(new_sums, new_point)
            if new_f > f + _BACKTRACK_RTOL * abs(f):
                if beta:
                    use_momentum = False  # restart: retake the step without momentum
                    continue
                if auto and lr > 1e-300:
                    # A plain step at rate 1/L cannot raise the objective: L was
                    # underestimated, so halve the rate and retake the step.
                    lr *= 0.5
                    monitor.learning_rate = lr
                    continue
            break
        theta, point, state, sums, f = new, new_point, new_state, new_sums, new_f
        momentum = next_momentum
        if monitor.record(f):
            monitor.converged = True
            break
    if accelerated:
        return point, monitor
    return rules.solution(rule, theta, state, len(monitor.history), hyper), monitor


def _minibatch(problem, options):
    source = problem.source
    n, d = source.n_rows, problem.n_features
    B = options.batch_size
    extremes = problem.row_extremes()
    if options.learning_rate == "auto":
        smoothness = stepsize.minibatch_smoothness(
            problem.lipschitz(), problem.lipschitz_max(extremes), B
        )
        lr = MINIBATCH_STEP_FRACTION * _inverse(smoothness)
    else:
        lr = options.learning_rate
    inv_mean_weight = n / extremes[1]
    shuffle = options.shuffle
    if shuffle is True:
        shuffle = "exact" if source.random_access else "block"
    buffer_rows = options.shuffle_buffer or SHUFFLE_BUFFER_BLOCKS * source.piece_rows
    rule = options.optimizer
    state = rules.init(rule, d + 1)
    hyper = np.zeros(rules.N_HYPER)
    hyper[rules.AVERAGE_START] = math.inf  # set once the first epoch is over
    theta = np.zeros(d + 1)
    plan = EpochPlan(source, shuffle or None, buffer_rows)
    rng = np.random.default_rng(options.random_state)
    monitor = _Monitor(problem, options, lr, n)
    t = 0
    for epoch in range(options.max_iter):
        if epoch == 1:
            hyper[rules.AVERAGE_START] = t
        loss_sum = weight_sum = 0.0
        for X, y, w, order in plan.units(rng):
            unit_loss, unit_weight, t = minibatch_epoch(
                X, y, w, order, B, problem.loss, theta, state, t, rule, lr, hyper,
                problem.l2, problem.l1, problem.fit_intercept, inv_mean_weight,
            )
            loss_sum += unit_loss
            weight_sum += unit_weight
        problem._check_finite(theta, "descending", lr)
        reported = rules.solution(rule, theta, state, t, hyper)
        if monitor.record(loss_sum / weight_sum + problem.penalty(reported)):
            if options.schedule == "plateau" and monitor.next_stage():
                # Constant-step SGD hovers around the optimum at a distance
                # that shrinks with the step: cut it and restart the average
                # from the current one.
                lr *= PLATEAU_FACTOR
                monitor.learning_rate = lr
                theta[:] = reported
                hyper[rules.AVERAGE_START] = t
                continue
            monitor.converged = True
            break
    return rules.solution(rule, theta, state, t, hyper), monitor


def _inverse(lipschitz):
    return 1.0 / lipschitz if lipschitz > 0 else 1.0


def _enable_logging():
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("fastgd: %(message)s"))
        log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
