"""Per-epoch bookkeeping: history, logging, callbacks, stopping rules, early stopping."""

import logging
import math
import time

import numpy as np

from .exceptions import DivergenceError

log = logging.getLogger("fastgd")

#: The objective scale that ``tol`` applies to never falls below this fraction
#: of the first epoch's objective.
TOL_FLOOR = 1e-10
#: Epochs in a row the objective must rise, ending at least twice its best,
#: before the solver calls it divergence.
DIVERGENCE_EPOCHS = 5
#: An objective this many times (the magnitude of) its starting value above
#: it is divergence at once: no descent, with momentum or noise, swings that far.
DIVERGENCE_FACTOR = 100.0

CONTINUE, PLATEAU, STOP = "continue", "plateau", "stop"


class Monitor:
    """Watches the objective epoch by epoch and says when to stop.

    - The ``tol`` rule: a *plateau* is ``n_iter_no_change`` epochs in a row
      that do not improve on the best objective by more than ``tol``
      (relative). What a plateau does (stop, or cut the rate) is the solver's
      call.
    - Divergence: a non-finite objective, one that rose for
      ``DIVERGENCE_EPOCHS`` epochs to above both twice its best and its
      starting value, or one ``DIVERGENCE_FACTOR`` times its starting value
      above it, raises :class:`~fastgd.DivergenceError`. What this needs is
      kept in the solver state's :class:`~fastgd.solvers.state.Watch`, so
      ``partial_fit`` calls are watched as one descent.
    - Early stopping: with a ``validation`` problem, the mean validation loss
      replaces the objective in the ``tol`` rule; the fit stops on its
      plateau and the best coefficients are restored.
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
        self.times = []
        self.validation_history = []
        self.best = math.inf
        self.stage_best = math.inf
        self.stalled = 0
        self.converged = False
        self.stopped = False
        self.best_validation = math.inf
        #: Whether the last recorded epoch improved the validation loss.
        self.improved = False
        self.validation_stalled = 0
        self._clock = time.perf_counter()

    def record(self, objective, theta):
        """Record one epoch ending at ``theta``; return CONTINUE, PLATEAU or STOP."""
        now = time.perf_counter()
        elapsed, self._clock = now - self._clock, now
        if not math.isfinite(objective):
            self.problem.check_finite(objective, "descending", self.learning_rate)
        self.epoch += 1
        self.history.append(objective)
        self.times.append(elapsed)
        validation = None
        if self.validation is not None:
            validation = self.validation.mean_loss(theta)
            self.validation_history.append(validation)
        if self.options.verbose:
            extra = "" if validation is None else f", validation loss {validation:.10g}"
            log.info(
                "epoch %d: objective %.10g%s, %.3f s, %.3g rows/s",
                self.epoch, objective, extra, elapsed,
                self.problem.source.n_rows / max(elapsed, 1e-12),
            )
        self._check_divergence(objective)
        if any(self._call(callback, objective, theta) for callback in self.options.callbacks):
            self.stopped = True
            return STOP
        if self.options.tol is None:
            return CONTINUE
        self.stalled = 0 if self._improves(objective, self.best) else self.stalled + 1
        self.best = min(self.best, objective)
        patience = self.options.n_iter_no_change
        if validation is not None:
            self.improved = self._improves(validation, self.best_validation)
            self.validation_stalled = 0 if self.improved else self.validation_stalled + 1
            self.best_validation = min(self.best_validation, validation)
            if self.validation_stalled >= patience:
                self.converged = True
                return STOP
            return PLATEAU if self.stalled >= patience else CONTINUE
        # An objective that keeps rising has not converged; let it run into
        # the divergence rule.
        rising = self.watch.rises >= min(patience, DIVERGENCE_EPOCHS)
        return PLATEAU if self.stalled >= patience and not rising else CONTINUE

    def next_stage(self):
        """Close a plateau; return whether the objective improved since the last one."""
        gained = self._improves(self.best, self.stage_best)
        self.stage_best = self.best
        self.stalled = 0
        return gained

    def _improves(self, objective, reference):
        if reference == math.inf:
            return True
        # Relative to the reference, but never to less than a sliver of the
        # first objective: on an exact fit the objective falls to 0 at a
        # steady relative rate, and the fit is done once it is negligible.
        scale = max(abs(reference), TOL_FLOOR * abs(self.history[0]))
        return objective < reference - self.options.tol * scale

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
                f"{objective:.6g}, with learning_rate={self.learning_rate:.6g}; try a smaller "
                f"learning_rate (e.g. {self.learning_rate / 10:.3g}) or learning_rate='auto'"
            )
        scale = max(abs(watch.start), abs(best) if math.isfinite(best) else 0.0, 1e-300)
        if objective > watch.start + DIVERGENCE_FACTOR * scale:
            raise DivergenceError(
                f"the objective rose from {watch.start:.6g} to {objective:.6g} with "
                f"learning_rate={self.learning_rate:.6g}; try a smaller learning_rate "
                f"(e.g. {self.learning_rate / 10:.3g}) or learning_rate='auto'"
            )

    def _call(self, callback, objective, theta):
        return bool(callback(self.epoch, objective, coefficients(self.problem, theta)[0]))


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

