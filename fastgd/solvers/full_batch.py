"""Full-batch descent: one pass and one step per epoch.

Two methods share the epoch loop. An update rule (:mod:`fastgd.optim.rules`)
takes its step from the exact gradient. Accelerated descent (FISTA:
Nesterov's method with a proximal step) takes the plain proximal step at an
extrapolated point ``theta + beta * (theta - previous)``.

Each epoch proposes a step and accepts it unless it raises the objective (or,
with ``line_search``, fails the sufficient decrease on the smooth part).
A rejected proposal is retaken with one remedy, in this order: without the
extrapolation (FISTA's adaptive restart), with the rule's velocity reset, at
half the rate (where the rate adapts: the automatic rate, or line search).
A plain step at rate ``1/L`` cannot raise a smooth objective, so a rise
means ``L`` was underestimated. A given rate is never changed: without a
remedy left, the step is accepted and divergence detection judges it.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..optim import rules
from .options import schedule_factor

#: A step that raises the objective by more than this (relative) is rejected.
BACKTRACK_RTOL = 1e-12
#: With ``line_search=True`` each epoch first tries this multiple of the last
#: accepted rate, then halves it until the step decreases enough (Armijo).
LINE_SEARCH_GROWTH = 2.0
#: Rates are never halved below this.
SMALLEST_RATE = 1e-300


@dataclass
class Point:
    """A point of the descent with its pass: sums, objective and gradient."""

    theta: np.ndarray
    sums: np.ndarray
    objective: float


@dataclass
class Proposal:
    """A proposed step: the new proximal point, where the next pass evaluates,
    and the state the step leaves behind."""

    new: np.ndarray
    point: Point
    inner: object
    #: FISTA's extrapolation weight (0: none) and next momentum counter.
    beta: float
    momentum: float
    #: The sufficient decrease failed (line search only).
    insufficient: bool = False


class FullBatch:
    """Descent by an update rule or accelerated, one step per pass (see the module docstring)."""

    def __init__(self, problem, options):
        self.problem = problem
        self.options = options
        self.accelerated = options.optimizer == "accelerated"
        self.name = options.optimizer
        self.step = rules.Step(
            rules.SGD if self.accelerated else options.rule.code, options.momentum, options.beta1,
            options.beta2, options.eps, *problem.weights,
        )
        rule = options.rule
        # The automatic rate is an estimate: a step that still raises the
        # objective once momentum is gone halves it (an adaptive rule's first
        # steps, before its averages settle, can be far longer than the rate).
        self.adaptive_rate = options.learning_rate == "auto" or options.line_search
        self.velocity = None if rule is None else rule.velocity

    def run(self, state, epochs, after_epoch):
        """Run up to ``epochs`` epochs from ``state`` (updated in place); ``after_epoch``
        records each and says whether to stop or cut the rate. Returns why the
        descent stalled, or None."""
        problem, options = self.problem, self.options
        here = self._evaluate(state.theta, "evaluating the starting point")
        if math.isnan(state.watch.start):
            state.watch.start = here.objective  # divergence is judged against it
        for _ in range(epochs):
            factor = schedule_factor(options, state.epochs + 1)
            rate = state.lr * factor * (LINE_SEARCH_GROWTH if options.line_search else 1.0)
            grad = problem.gradient(here.sums)
            proposal, rate = self._accepted(state, here, grad, rate)
            if self.adaptive_rate:
                state.lr = rate / factor
                if rate <= SMALLEST_RATE:
                    return "the step was halved to nothing without lowering the objective"
            here = proposal.point
            state.theta = here.theta
            state.inner = proposal.inner
            if self.accelerated:
                state.inner.previous, state.inner.momentum = proposal.new, proposal.momentum
            else:
                state.inner.t += 1
            state.epochs += 1
            action = after_epoch(state, here.objective, state.solution(), here.sums)
            if action == "stop":
                break
            if action == "cut":
                state.lr *= options.plateau_factor
                if self.accelerated:
                    state.inner.momentum = 1.0
        return None

    def _accepted(self, state, here, grad, rate):
        """Propose steps from ``here`` until one is accepted; return it and its rate."""
        extrapolate = self.accelerated
        inner = state.inner
        while True:
            proposal = self._propose(inner, here, grad, rate, extrapolate)
            rejected = proposal.insufficient or proposal.point.objective > here.objective + BACKTRACK_RTOL * abs(
                here.objective
            )
            if not rejected:
                return proposal, rate
            if proposal.insufficient and rate > SMALLEST_RATE:
                rate *= 0.5
            elif proposal.beta:
                extrapolate = False
            elif self.velocity is not None and np.any(inner.slots[self.velocity]):
                inner = inner.copy()
                inner.slots[self.velocity] = 0.0
            elif self.adaptive_rate and rate > SMALLEST_RATE:
                rate *= 0.5
            else:
                return proposal, rate

    def _propose(self, inner, here, grad, rate, extrapolate):
        """The step at ``rate`` from ``here`` (FISTA: from its extrapolated point)."""
        problem = self.problem
        new = here.theta.copy()
        if self.accelerated:
            new_inner = inner
            rules.update(self.step, new, grad, np.empty((0, new.shape[0])), 1, rate, math.inf)
        else:
            new_inner = inner.copy()
            rules.update(self.step, new, grad, new_inner.slots, inner.t + 1, rate, new_inner.average_start)
        point = None
        if self.options.line_search:
            point = self._evaluate(new, "descending", rate)
            step = new - here.theta
            smooth = here.objective - problem.penalty(here.theta)
            bound = smooth + grad @ step + step @ step / (2.0 * rate)
            if point.objective - problem.penalty(new) > bound + BACKTRACK_RTOL * abs(here.objective):
                return Proposal(new, point, new_inner, 0.0, 1.0, insufficient=True)
        beta, momentum = 0.0, 1.0
        if extrapolate:
            previous = inner.previous
            if (here.theta - new) @ (new - previous) <= 0.0:  # the step agrees with the momentum
                momentum = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * inner.momentum**2))
                beta = (inner.momentum - 1.0) / momentum
        if beta:
            point = self._evaluate(new + beta * (new - inner.previous), "descending", rate)
        elif point is None:
            point = self._evaluate(new, "descending", rate)
        return Proposal(new, point, new_inner, beta, momentum)

    def _evaluate(self, theta, doing, rate=None):
        sums = self.problem.sums(theta)
        self.problem.check_finite(sums, doing, rate)
        return Point(theta, sums, self.problem.objective(sums, theta))
