"""The epoch loop's driver: pick the solver, record epochs, keep the last good state.

Python runs once per epoch (schedules, ``tol``, divergence, early stopping,
callbacks, logging); everything per row or per mini-batch runs in compiled
code.
"""

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..exceptions import ConvergenceWarning
from ..monitor import PLATEAU, STOP, Monitor, coefficients, enable_logging, flat_parameters
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


def solver_for(problem, options):
    """The solver of ``options``: mini-batch, L-BFGS, or full-batch rules and FISTA."""
    if not options.full_batch:
        return MiniBatch(problem, options)
    if options.optimizer == "lbfgs":
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
    """
    if options.verbose:
        enable_logging()
    state = state.copy()
    monitor = Monitor(problem, options, state.lr, state.watch, validation, epoch=state.epochs)
    kept = {}

    def after_epoch(state, objective, reported):
        monitor.learning_rate = state.lr
        kept["last"] = reported  # complete, even if a callback interrupts the recording
        event = monitor.record(objective, reported)
        if monitor.improved:
            kept["best"] = reported
        if event == PLATEAU:
            if options.schedule == "plateau" and monitor.next_stage():
                return "cut"
            monitor.converged = True
            return "stop"
        return "stop" if event == STOP else None

    whole_fit = epochs is None
    if not whole_fit:
        options = _single_epochs(options)
        monitor.options = options
    interrupted = False
    try:
        solver_for(problem, options).run(state, options.max_iter if whole_fit else epochs, after_epoch)
    except KeyboardInterrupt:
        if "last" not in kept:
            raise
        interrupted = True
    solution = state.solution()
    state.reported = flat_parameters(*coefficients(problem, solution))
    if interrupted:
        solution = kept["last"]
    elif "best" in kept:
        solution = kept["best"]
    if whole_fit and options.tol is not None and not (monitor.converged or monitor.stopped or interrupted):
        warnings.warn(
            f"stopped after max_iter={options.max_iter} epochs before the objective's relative "
            f"improvement fell below tol={options.tol:g}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=4,
        )
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
        interrupted=interrupted,
    )
    return result, state


def _single_epochs(options):
    """Options for epochs that continue a longer descent: no stopping rule."""
    return replace(options, tol=None)
