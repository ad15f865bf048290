"""What to tell a user whose fit did not converge or diverged: the fix most
likely to help, judged from what the solver saw."""

import math
from dataclasses import replace

import numpy as np

from ..monitor import MAX_ITER
from ..optimality import measure

#: Column scales spread wider than this make descent without standardization crawl.
SCALE_SPREAD = 1e3
#: An optimality measure this small is at the rounding of float64 sums.
ROUNDING = 1e-8
#: A fit whose objective still fell by this much (relative) over its last
#: ``n_iter_no_change`` epochs was making progress when ``max_iter`` ended it.
STILL_FALLING = 1e-9


def reference_optimality(problem, sums_at=None):
    """The optimality measure at the starting model: zero weights, the intercept at its start.

    ``tol`` is relative to it; never 0, so a model that starts at its optimum
    converges at once. ``sums_at(theta)``, when given, stands for the pass
    ``problem.sums(theta)`` (a solver that holds the data's sums already).
    """
    theta = np.zeros(problem.n_params)
    if problem.fit_intercept and problem.n_out == 1:
        theta[problem.n_features] = problem.loss.start_intercept(problem.target_mean)
    sums = problem.sums(theta) if sums_at is None else sums_at(theta)
    return max(measure(problem, theta, sums), np.finfo(float).tiny)


def automatic_rate(problem, options):
    """The automatic rate for these data and settings (a few passes), or None for L-BFGS."""
    from .start import base_rate

    if options.optimizer in ("lbfgs", "exact"):
        return None
    return base_rate(problem, replace(options, learning_rate="auto"), np.zeros(problem.n_params))[0]


def for_divergence(problem, options, rate):
    """What to try after a divergence at ``rate``: never the setting the user already has."""
    if options.learning_rate != "auto":
        automatic = automatic_rate(problem, options)
        return f"learning_rate='auto' (about {automatic:.3g} on these data) or a smaller learning_rate"
    if not problem.standardized:
        return f"standardize=True, or a learning_rate below {rate:.3g} (e.g. {rate / 10:.3g})"
    return f"a learning_rate below the automatic {rate:.3g} (e.g. {rate / 10:.3g})"


def for_convergence(problem, options, monitor, stall):
    """The ConvergenceWarning's message: where the fit ended, how far it was, and the fix."""
    history = monitor.history
    reached = monitor.optimality[-1] if monitor.optimality else float("nan")
    if monitor.reason == MAX_ITER:
        where = f"stopped after max_iter={options.max_iter} epochs"
    else:
        where = f"stalled after {len(history)} epochs ({stall or 'the objective stopped decreasing'})"
    if not reached == reached:
        status = f"{where} before meeting tol={options.tol:g}"
    elif reached > options.tol:
        status = f"{where} with the optimality measure at {reached:.3g} of its starting value, above tol={options.tol:g}"
    else:  # tol met, and yet short of the optimum (the stall says how far)
        status = where
    return f"{status}; {_fix(problem, options, monitor)}"


def for_separable(problem, monitor):
    """A warning for a converged classifier whose classes look separable, or None.

    Without a penalty its objective has no minimum: the gradient vanishes as
    the coefficients grow, so ``tol`` is met at a size that depends on
    ``tol``, not on the data.
    """
    if not (monitor.converged and _looks_separable(problem, monitor)):
        return None
    return (
        f"the training loss fell to {monitor.history[-1]:.2g} (from {monitor.watch.start:.2g}): the classes look "
        "separable, and without a penalty the optimum lies at infinity, so coef_ grows as tol shrinks; add a "
        "penalty (penalty='l2', alpha=1e-4, say) for coefficients that do not depend on tol"
    )


def _looks_separable(problem, monitor):
    unpenalized = problem.l2 == 0 and problem.l1 == 0
    history = monitor.history
    return problem.loss.classification and unpenalized and history and history[-1] < 1e-3 * monitor.watch.start


def _fix(problem, options, monitor):
    if not problem.standardized:
        _, scale = problem.measuring_coordinates
        spread = scale[scale > 0]
        if spread.size and spread.max() > SCALE_SPREAD * spread.min():
            return (
                f"the feature scales differ by {spread.max() / spread.min():.2g}x: use standardize=True "
                "(coef_ stays in the data's units)"
            )
    history = monitor.history
    if _looks_separable(problem, monitor):
        return (
            "the training loss is falling towards 0: the classes look separable, and without a penalty "
            "the optimum lies at infinity; add one (penalty='l2', alpha=1e-4, say)"
        )
    if not options.full_batch and options.schedule == "constant":
        return "a constant rate keeps the mini-batch noise: schedule='plateau' (the default) cuts it"
    if options.learning_rate != "auto":
        return "try learning_rate='auto'"
    if not problem.loss.smooth:
        return (
            f"loss={problem.loss.name!r} is not smooth: subgradient descent nears its optimum only slowly; "
            "loss='log_loss' is a smooth classifier"
        )
    window = history[-options.n_iter_no_change - 1 :]
    # Too few epochs to judge a trend: more of them is the first thing to try.
    falling = len(history) <= options.n_iter_no_change or window[0] - window[-1] > STILL_FALLING * abs(window[0])
    if not options.full_batch:
        if monitor.reason == MAX_ITER and falling:
            return (
                f"the objective was still falling: raise max_iter (it was {options.max_iter}), or fit in full "
                "batch (batch_size=None)"
            )
        return "mini-batch descent stops at its noise: full batch (batch_size=None) reaches the optimum exactly"
    if problem.l1 == 0 and options.optimizer != "lbfgs":
        return "optimizer='lbfgs' converges in far fewer epochs on smooth problems"
    if monitor.reason == MAX_ITER and falling:
        return f"the objective was still falling: raise max_iter (it was {options.max_iter})"
    reached = monitor.optimality[-1] if monitor.optimality else math.nan
    if reached <= ROUNDING:
        return (
            f"tol={options.tol:g} is finer than float64 sums resolve on these data: the fit is as close "
            "to the optimum as it can get; use a larger tol"
        )
    penalty = "a larger alpha" if problem.l2 > 0 else "an L2 penalty (penalty='l2' or 'elasticnet')"
    return (
        "the objective cannot fall further in float64 here: the problem is very ill-conditioned "
        f"(collinear features); {penalty} or a larger tol helps"
    )
