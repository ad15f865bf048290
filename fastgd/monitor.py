"""Per-epoch bookkeeping: history, logging, callbacks, stopping rules, early stopping."""

import logging
import math
import time

import numpy as np

from .exceptions import DivergenceError

log = logging.getLogger("fastgd")

#: Epochs in a row the objective must rise, ending at least twice its best,
#: before the solver calls it divergence.
DIVERGENCE_EPOCHS = 5
#: An objective this many times (the magnitude of) its starting value above
#: it is divergence at once: no descent, with momentum or noise, swings that far.
DIVERGENCE_FACTOR = 100.0
#: A plateau: ``n_iter_no_change`` epochs without improving the best objective
#: by more than its rounding (relative: ``ROUNDING_RTOL``, or ``eps *
#: sqrt(rows)`` for a sum of more rows), nor the optimality measure by
#: ``PLATEAU_FACTOR``. Descent that slow has stalled. (With 1e-12 instead,
#: L-BFGS on a 7-class softmax of 234 rows, still gaining 5e-13 an epoch at
#: 3e-12 from its optimum, stalled five epochs before meeting ``tol``.)
ROUNDING_RTOL = 1e-14
PLATEAU_FACTOR = 0.9
#: Relative improvements of stage medians and validation losses that count.
PLATEAU_RTOL = 1e-12
#: Stages in a row whose median objective fails to beat the best stage's
#: before a rate cut counts as no help. The median of a noisy stage can miss
#: by chance: with one, RMSProp and Adam at ``batch_size=256`` ended as
#: stalled 12-147% above the optimum on 4 and 1 of 12 seeds of one
#: well-conditioned problem; with two, all 24 fits converged.
FAILED_STAGES = 2

CONTINUE, PLATEAU, STOP = "continue", "plateau", "stop"
#: Why a fit ended (``stop_reason_``).
CONVERGED, STALLED, MAX_ITER, EARLY_STOPPING, CALLBACK, INTERRUPTED = (
    "converged", "stalled", "max_iter", "early_stopping", "callback", "interrupted",
)


class Monitor:
    """Watches each epoch and says when to stop, and why.

    - Convergence: the first-order optimality measure (see
      :mod:`fastgd.optimality`) at the reported parameters falls to ``tol``
      times its value at the starting model (``watch.scale``).
    - A *plateau*: ``n_iter_no_change`` epochs in a row that improve neither
      the best objective of the current *stage* (the epochs since the rate
      was last cut) beyond its rounding nor its best optimality
      measure by ``PLATEAU_FACTOR``: near the optimum the objective falls by
      the square of the gradient, below its rounding, while the gradient
      still shrinks. What a plateau does (cut the
      rate, or end the fit as stalled) is the solver's call; a cut *helped*
      when the stage's median objective fell below the best median of the
      stages before, which one lucky epoch of a noisy mini-batch descent
      cannot fake; the fit stalls after ``FAILED_STAGES`` stages in a row
      that did not.
    - Divergence: a non-finite objective, one that rose for
      ``DIVERGENCE_EPOCHS`` epochs to above both twice its best and its
      starting value, or one ``DIVERGENCE_FACTOR`` times its starting value
      above it, raises :class:`~fastgd.DivergenceError` (the solver's driver
      adds what to try). What this needs is kept in the solver state's
      :class:`~fastgd.solvers.state.Watch`, so ``partial_fit`` calls are
      watched as one descent.
    - Early stopping: with a ``validation`` problem, the fit stops once the
      mean validation loss has not reached a new best for ``n_iter_no_change``
      epochs and its trend over them (a least-squares line) no longer falls:
      a lucky epoch does not end a fit that is still improving. The best
      coefficients are restored.
    - Callbacks: ``callback(epoch, objective, coef)`` returning True stops.
    """

    def __init__(self, problem, options, learning_rate, watch, validation=None, epoch=0):
        self.problem = problem
        self.options = options
        self.learning_rate = learning_rate
        self.watch = watch
        self.validation = validation
        self.epoch = epoch
        self.history = []
        self.optimality = []
        self.times = []
        self.validation_history = []
        self.stage = []
        self.stage_best = math.inf
        self.stage_optimality = math.inf
        #: The smallest relative improvement of the objective that counts as
        #: progress: its rounding in full batch; mini-batch descent, whose noise
        #: lies far above, gains too little for an epoch below PLATEAU_RTOL.
        self.rounding = (
            max(ROUNDING_RTOL, np.finfo(float).eps * math.sqrt(problem.source.n_rows))
            if options.full_batch else PLATEAU_RTOL
        )
        #: The lowest median objective of the stages closed so far.
        self.best_stage = math.inf
        self.failed_stages = 0
        self.stalled = 0
        self.reason = None
        self.best_validation = math.inf
        #: Whether the last recorded epoch improved the validation loss.
        self.improved = False
        self.validation_stalled = 0
        self._clock = time.perf_counter()

    @property
    def converged(self):
        return self.reason == CONVERGED

    def record(self, objective, theta, optimality=None):
        """Record one epoch ending at ``theta``; return CONTINUE, PLATEAU or STOP.

        ``optimality`` is the measure at ``theta`` (None where the epoch did not
        compute it); the fit has converged when it is at most ``tol`` times
        ``watch.scale``.
        """
        now = time.perf_counter()
        elapsed, self._clock = now - self._clock, now
        if not math.isfinite(objective):
            self.problem.check_finite(objective, "descending", self.learning_rate)
        self.epoch += 1
        self.history.append(objective)
        self.optimality.append(math.nan if optimality is None else optimality / self.watch.scale)
        self.times.append(elapsed)
        validation = None
        if self.validation is not None:
            validation = self.validation.mean_loss(theta)
            self.validation_history.append(validation)
        if self.options.verbose:
            extra = "" if validation is None else f", validation loss {validation:.10g}"
            log.info(
                "epoch %d: objective %.10g, optimality %.3g%s, %.3f s, %.3g rows/s",
                self.epoch, objective, self.optimality[-1], extra, elapsed,
                self.problem.source.n_rows / max(elapsed, 1e-12),
            )
        self._check_divergence(objective)
        if any(self._call(callback, objective, theta) for callback in self.options.callbacks):
            self.reason = CALLBACK
            return STOP
        if self.options.tol is None:
            return CONTINUE
        if optimality is not None and optimality <= self.options.tol * self.watch.scale:
            self.reason = CONVERGED
            return STOP
        progress = self._improves(objective, self.stage_best, self.rounding) or (
            optimality is not None and optimality < PLATEAU_FACTOR * self.stage_optimality
        )
        self.stalled = 0 if progress else self.stalled + 1
        self.stage_best = min(self.stage_best, objective)
        if optimality is not None:
            self.stage_optimality = min(self.stage_optimality, optimality)
        self.stage.append(objective)
        patience = self.options.n_iter_no_change
        if validation is not None:
            self.improved = self._improves(validation, self.best_validation)
            self.validation_stalled = 0 if self.improved else self.validation_stalled + 1
            self.best_validation = min(self.best_validation, validation)
            if self.validation_stalled >= patience and not _falling(self.validation_history[-patience - 1 :]):
                self.reason = EARLY_STOPPING
                return STOP
        # An objective that keeps rising has not stalled; let it run into the
        # divergence rule.
        rising = self.watch.rises >= min(patience, DIVERGENCE_EPOCHS)
        return PLATEAU if self.stalled >= patience and not rising else CONTINUE

    def next_stage(self):
        """Close a stage at its plateau; return whether cutting the rate is still
        worth a try (False: ``FAILED_STAGES`` stages in a row did no better
        than the best before them)."""
        median = float(np.median(self.stage))
        self.failed_stages = 0 if self._improves(median, self.best_stage) else self.failed_stages + 1
        self.best_stage = min(self.best_stage, median)
        self.stage, self.stage_best, self.stage_optimality, self.stalled = [], math.inf, math.inf, 0
        return self.failed_stages < FAILED_STAGES

    @staticmethod
    def _improves(objective, reference, rtol=PLATEAU_RTOL):
        if reference == math.inf:
            return True
        return objective < reference - rtol * abs(reference)

    def _check_divergence(self, objective):
        watch = self.watch
        if math.isnan(watch.start):
            watch.start = objective
        watch.rises = watch.rises + 1 if objective > watch.previous else 0
        best = watch.lowest
        watch.previous = objective
        watch.lowest = min(watch.lowest, objective)
        # Momentum makes the objective swing; a swing stays below where the
        # descent started, a divergence does not.
        ceiling = max(best + abs(best), watch.start)
        if watch.rises >= DIVERGENCE_EPOCHS and objective > ceiling:
            raise DivergenceError(
                f"the objective rose for {watch.rises} epochs in a row, from {best:.6g} to "
                f"{objective:.6g}, with learning_rate={self.learning_rate:.6g}"
            )
        if objective > divergence_ceiling(watch.start, best):
            raise DivergenceError(
                f"the objective rose from {watch.start:.6g} to {objective:.6g} with "
                f"learning_rate={self.learning_rate:.6g}"
            )

    def _call(self, callback, objective, theta):
        return bool(callback(self.epoch, objective, coefficients(self.problem, theta)[0]))


def _falling(values):
    """Whether the least-squares line through ``values`` (one per epoch) slopes down."""
    values = np.asarray(values, dtype=float)
    steps = np.arange(len(values)) - (len(values) - 1) / 2.0
    return float(steps @ (values - values.mean())) < -PLATEAU_RTOL * abs(values.mean()) * float(steps @ steps)


def divergence_ceiling(start, lowest):
    """The objective above which a descent that started at ``start`` and reached
    ``lowest`` has diverged: ``DIVERGENCE_FACTOR`` times the larger of their
    magnitudes above the start (a descent that never fell below its start is
    judged against the start alone)."""
    reached = min(lowest, start) if math.isfinite(lowest) else start
    return start + DIVERGENCE_FACTOR * max(abs(start), abs(reached), 1e-300)


def coefficients(problem, theta):
    """``(coef, intercept)`` in data units: ``(d,), float`` or ``(K, d), (K,)``."""
    raw = problem.raw(theta).reshape(problem.n_out, problem.n_features + 1)
    if problem.n_out == 1:
        return raw[0, :-1].copy(), float(raw[0, -1])
    return raw[:, :-1].copy(), raw[:, -1].copy()


def flat_parameters(coef, intercept):
    """The flat parameter vector (data units) of ``coef`` and ``intercept``: one
    row of ``d + 1`` per output, the intercept last."""
    return np.column_stack([np.atleast_2d(coef), np.ravel(intercept)]).ravel()


def enable_logging():
    """Show INFO lines of the ``fastgd`` logger when nothing else is configured."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("fastgd: %(message)s"))
        log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)

