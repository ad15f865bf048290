"""Mini-batch and stochastic descent: one compiled call per epoch (per shuffle
buffer for streamed data, per partition for Dask)."""

import functools
import math

from ..optim.epoch import Model, minibatch_epoch
from ..optim.rules import Step
from .options import schedule_factor


class MiniBatch:
    """Descent by an update rule on shuffled mini-batches of ``batch_size`` rows."""

    def __init__(self, problem, options):
        self.problem = problem
        self.options = options
        self.rule = options.rule
        source = problem.source
        weight_sum = problem.row_extremes()[1] if source.weighted else float(source.n_rows)
        self.model = Model(
            problem.loss.code, problem.loss_param, problem.n_out, options.batch_size,
            source.n_rows / weight_sum, problem.center, problem.inv_scale, problem.standardized,
            options.in_kernel_power,
        )
        self.step = Step(
            self.rule.code, options.momentum, options.beta1, options.beta2, options.eps, *problem.weights
        )
        self.epochs = source.epochs(options.shuffle, options.shuffle_buffer, options.batch_size)

    def run(self, state, epochs, after_epoch):
        """Run up to ``epochs`` epochs.

        With a ``tol``, one full pass after each epoch gives the exact objective
        and gradient at the reported parameters: the history holds exact
        values, and convergence is judged on them. Without, the history holds
        the mean of the batch losses during each epoch.
        """
        problem, options = self.problem, self.options
        if math.isnan(state.watch.start):
            # Where the descent starts: divergence is judged against it.
            state.watch.start = problem.objective(problem.sums(state.theta), state.theta)
        theta = state.theta
        raw = problem.raw(theta).copy() if problem.standardized else theta
        for _ in range(epochs):
            inner = state.inner
            if self.rule.averaging and state.epochs >= 1 and math.isinf(inner.average_start):
                inner.average_start = float(inner.t)  # average from the second epoch on
            rate = state.lr * schedule_factor(options, state.epochs + 1)
            unit = functools.partial(run_unit, self.model, self.step, rate, float(inner.average_start))
            carry = (theta, raw, inner.slots, inner.t, 0.0, 0.0)
            new_theta, new_raw, slots, inner.t, loss_sum, weight_total = self.epochs.run(unit, carry, state.rng)
            # A distributed epoch returns new arrays; a local one updated these in place.
            theta[:] = new_theta
            raw[:] = new_raw
            inner.slots[...] = slots
            state.epochs += 1
            problem.check_finite(theta, "descending", rate)
            reported = state.solution()
            if options.tol is None:
                action = after_epoch(state, loss_sum / weight_total + problem.penalty(reported), reported)
            else:
                sums = problem.sums(reported)
                problem.check_finite(sums, "descending", rate)
                action = after_epoch(state, problem.objective(sums, reported), reported, sums)
            if action == "stop":
                break
            if action == "cut":
                # Constant-step SGD hovers around the optimum at a distance that
                # shrinks with the step: cut it, and restart the average from the
                # current one.
                state.lr *= options.plateau_factor
                theta[:] = reported
                if problem.standardized:
                    raw[:] = problem.raw(theta)
                inner.restart_average()
        return None


def run_unit(model, step, lr, average_start, rows, carry):
    """One call of the epoch kernel over ``rows``, threading the carry
    ``(theta, raw, slots, t, loss_sum, weight_sum)`` (module level: Dask workers run it)."""
    theta, raw, slots, t, loss_sum, weight_total = carry
    if not model.standardized:
        raw = theta  # one array: serializers that send a carry's arrays one by one lose the identity
    unit_loss, unit_weight, t = minibatch_epoch(rows, model, step, theta, raw, slots, t, lr, average_start)
    return theta, raw, slots, t, loss_sum + unit_loss, weight_total + unit_weight
