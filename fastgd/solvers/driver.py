"""The epoch loop's driver: pick the solver, record epochs, keep the last good state.

Python runs once per epoch (schedules, ``tol``, divergence, early stopping,
callbacks, logging); everything per row or per mini-batch runs in compiled
code.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..exceptions import ConvergenceWarning, DataWarning, DivergenceError, warn_caller
from ..monitor import (
    INTERRUPTED, MAX_ITER, PLATEAU, STALLED, STOP, Monitor, coefficients, enable_logging, flat_parameters,
)
from ..optimality import measure
from . import advice, exact
from .full_batch import FullBatch
from .lbfgs import Lbfgs
from .minibatch import MiniBatch


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
    #: The optimality measure after each epoch, relative to the starting model's
    #: (NaN where an epoch did not measure it; for a whole fit that ended before
    #: its first epoch, the one value at its coefficients); see
    #: :mod:`fastgd.optimality`.
    optimality: np.ndarray | None = None
    #: Why the fit ended: "converged", "stalled", "max_iter", "early_stopping",
    #: "callback", "interrupted", or None (``partial_fit``'s epochs).
    stop_reason: str | None = None
    #: The method that took the steps: "exact", "lbfgs", "accelerated", an
    #: update rule ("sgd", "asgd", "adam", ...), or "exact, then lbfgs" (or
    #: "accelerated") where rounding left the exact solve short of ``tol``.
    optimizer: str | None = None


def solver_for(problem, options, whole_fit=True):
    """The solver of ``options``: mini-batch, L-BFGS, the exact least-squares
    solve, or full-batch rules and FISTA.

    ``optimizer="auto"`` takes the exact solver for least squares (any
    penalty) with at most ``AUTO_GRAM_MAX`` features on sparse or coded rows
    (categorical columns) and ``AUTO_DENSE_GRAM_MAX`` on dense rows, where one
    pass is measured to be fastest. The exact solver solves a whole fit; the
    epochs of ``partial_fit`` go to L-BFGS (FISTA with an L1 penalty).
    """
    if not options.full_batch:
        return MiniBatch(problem, options)
    if options.optimizer == "exact" and not exact.applies(problem):
        raise ValueError(
            f"optimizer='exact' solves least squares with one output and at most {exact.GRAM_MAX} features; "
            f"this fit has loss={problem.loss.name!r}, {problem.n_out} outputs and {problem.n_features} features: "
            "use optimizer='lbfgs' or 'accelerated'"
        )
    if whole_fit and exact.solves(problem, options):
        return exact.Exact(problem, options)
    if options.optimizer == "exact" and problem.l1 > 0.0:
        return FullBatch(problem, replace(options, optimizer="accelerated"))
    if options.optimizer in ("lbfgs", "exact"):
        return Lbfgs(problem, options)
    return FullBatch(problem, options)


def solve(problem, options, state, validation=None, epochs=None):
    """Descend from ``state``; return the :class:`FitResult` and the new state.

    ``state`` itself is never modified: the descent works on a copy, so a
    step that fails (divergence, bad data) leaves the caller's state as it
    was. ``validation``, a problem over held-out rows, turns on early
    stopping, which returns the coefficients of the best epoch. ``epochs``
    runs that many epochs as part of a longer descent (``partial_fit``): no
    stopping rule and no convergence warning; by default a whole fit of up to
    ``max_iter`` epochs.

    The coefficients returned are those the state reports, except after early
    stopping (the best epoch's) or Ctrl-C (the last completed epoch's); the
    state then records that it reports others, and a continuing fit restarts
    from the returned coefficients (see :func:`~fastgd.solvers.start.resume`).

    A whole fit that ends without meeting ``tol`` (a stall, or ``max_iter``)
    warns once with a :class:`~fastgd.ConvergenceWarning` naming the fix that
    is most likely to help (see :mod:`fastgd.solvers.advice`).
    """
    if options.verbose:
        enable_logging()
    state = state.copy()
    whole_fit = epochs is None
    if not whole_fit:
        options = replace(options, tol=None)  # epochs of a longer descent: no stopping rule
    solver = solver_for(problem, options, whole_fit)
    if options.whole_batch_tol is not None and options.tol is not None and getattr(solver, "whole_batches", False):
        options = replace(options, tol=options.whole_batch_tol)
    if whole_fit and options.tol is not None and math.isnan(state.watch.scale):
        state.watch.scale = advice.reference_optimality(problem, getattr(solver, "sums_at_start", None))
    monitor = Monitor(problem, options, state.lr, state.watch, validation, epoch=state.epochs)
    kept = {}

    def after_epoch(state, objective, reported, sums=None):
        monitor.learning_rate = state.lr
        kept["last"] = reported  # complete, even if a callback interrupts the recording
        optimality = None
        if sums is not None and options.tol is not None:
            optimality = measure(problem, reported, sums)
        event = monitor.record(objective, reported, optimality)
        if monitor.improved:
            kept["best"] = reported
        if event == PLATEAU:
            if options.schedule == "plateau" and monitor.next_stage():
                return "cut"
            monitor.reason = STALLED
            return "stop"
        return "stop" if event == STOP else None

    try:
        stall = solver.run(state, options.max_iter if whole_fit else epochs, after_epoch)
    except KeyboardInterrupt:
        if "last" not in kept:
            raise
        monitor.reason = INTERRUPTED
    except DivergenceError as error:
        raise DivergenceError(f"{error}; try {advice.for_divergence(problem, options, state.lr)}") from None
    else:
        if stall is not None and monitor.reason is None:
            monitor.reason = STALLED
    if monitor.reason is None and whole_fit and options.tol is not None:
        monitor.reason = MAX_ITER
    solution = state.solution()
    state.reported = flat_parameters(*coefficients(problem, solution))
    if monitor.reason == INTERRUPTED:
        solution = kept["last"]
    elif "best" in kept:
        solution = kept["best"]
    if monitor.converged and whole_fit and not options.full_batch:
        gap = exact.excess(problem, solution, state.watch.start)
        if gap is not None and gap > exact.MINIBATCH_GAP:
            monitor.reason = STALLED
            stall = (
                f"its optimality met tol={options.tol:g}, but the objective lies {100 * gap:.3g}% above the "
                "least-squares optimum, solved from one more pass"
            )
    if whole_fit and options.tol is not None and not monitor.optimality:
        # No epoch measured (a stall before the first): measure where the fit stands.
        sums = problem.sums(solution)
        monitor.optimality.append(measure(problem, solution, sums) / state.watch.scale)
    if monitor.reason in (STALLED, MAX_ITER):
        warn_caller(
            advice.for_convergence(problem, options, monitor, stall), ConvergenceWarning
        )
    separable = advice.for_separable(problem, monitor) if whole_fit else None
    if separable is not None:
        warn_caller(separable, DataWarning)
    coef, intercept = coefficients(problem, solution)
    result = FitResult(
        coef=coef,
        intercept=intercept,
        n_iter=len(monitor.history),
        loss_history=np.asarray(monitor.history),
        converged=monitor.converged,
        learning_rate=state.lr,
        epoch_times=np.asarray(monitor.times),
        validation_loss_history=np.asarray(monitor.validation_history) if validation else None,
        interrupted=monitor.reason == INTERRUPTED,
        optimality=np.asarray(monitor.optimality),
        stop_reason=monitor.reason,
        optimizer=solver.name,
    )
    return result, state
