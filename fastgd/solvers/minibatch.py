"""Mini-batch and stochastic descent: one compiled call per epoch (per shuffle
buffer for streamed data, per partition for Dask)."""

import functools
import math

import numpy as np

from .. import _threads
from .._config import MINIBATCH_THREAD_WORK
from ..data.coded import has_entries, store_of
from ..optim.epoch import Model, chunk_rows, minibatch_epoch
from ..optim.rules import Step
from ..optim.space import to_raw
from ..optim.sparse_epoch import SparseRows, sparse_minibatch_epoch
from ..optim.stochastic import stochastic_epoch, takes
from ..optim.threaded_epoch import threaded_minibatch_epoch
from ..monitor import divergence_ceiling
from .options import schedule_factor

#: Epochs an automatic rate may retake at half the rate, in a whole descent.
MAX_RETAKES = 60


class MiniBatch:
    """Descent by an update rule on shuffled mini-batches of ``batch_size`` rows."""

    def __init__(self, problem, options):
        self.problem = problem
        self.options = options
        self.name = options.optimizer
        self.rule = options.rule
        source = problem.source
        if source.sparse:
            _check_lazy(problem, options)
        weight_sum = problem.row_extremes()[1] if source.weighted else float(source.n_rows)
        self.step = Step(
            self.rule.code, options.momentum, options.beta1, options.beta2, options.eps, *problem.weights
        )
        self.model = Model(
            problem.loss.code, problem.loss_param, problem.n_out, options.batch_size,
            source.n_rows / weight_sum, problem.center, problem.inv_scale, problem.standardized,
            options.in_kernel_power, source.sparse and _scaled_l2(self.rule, problem, self.step),
            chunk_rows(problem.n_params, options.batch_size),
            losses_at_average=options.tol is None,  # with tol, a pass measures each epoch
        )
        self.epochs = source.epochs(options.shuffle, options.shuffle_buffer, options.batch_size)

    def run(self, state, epochs, after_epoch):
        """Run up to ``epochs`` epochs.

        With a ``tol``, one full pass after each epoch gives the exact objective
        and gradient at the reported parameters: the history holds exact
        values, and convergence is judged on them. Without, the history holds
        the mean of the batch losses during each epoch.

        Under the automatic rate an epoch that diverges (non-finite
        parameters, or an objective ``DIVERGENCE_FACTOR`` times its start
        above it) is undone and retaken at half the rate: the rate bounds
        from the data are estimates, and losses such as Poisson's have no
        bound at all.
        """
        problem, options = self.problem, self.options
        if math.isnan(state.watch.start):
            # Where the descent starts: divergence is judged against it.
            state.watch.start = problem.start_objective(state.theta)
        theta = state.theta
        raw = problem.raw(theta).copy() if problem.standardized else theta
        retaken = 0
        while epochs > 0:
            inner = state.inner
            if self.rule.averaging and state.epochs >= 1 and math.isinf(inner.average_start):
                inner.average_start = float(inner.t)  # average from the second epoch on
            before = (theta.copy(), inner.copy(), state.rng.bit_generator.state) if self.backtracks else None
            rate = state.lr * schedule_factor(options, state.epochs + 1)
            unit = functools.partial(run_unit, self.model, self.step, rate, float(inner.average_start))
            carry = (theta, raw, inner.slots, inner.t, 0.0, 0.0)
            new_theta, new_raw, slots, inner.t, loss_sum, weight_total = self.epochs.run(unit, carry, state.rng)
            # A distributed epoch returns new arrays; a local one updated these in place.
            theta[:] = new_theta
            raw[:] = new_raw
            inner.slots[...] = slots
            reported = state.solution()
            sums = None if options.tol is None else problem.sums(reported)
            objective = (
                loss_sum / weight_total + problem.penalty(reported) if sums is None else problem.objective(sums, reported)
            )
            if before is not None and self._diverged(state, theta, objective) and retaken < MAX_RETAKES:
                # Undo the epoch (the same rows in the same order) and halve the rate.
                theta[:], state.inner, state.rng.bit_generator.state = before
                if problem.standardized:
                    raw[:] = problem.raw(theta)
                state.lr *= 0.5
                retaken += 1
                continue
            epochs -= 1
            state.epochs += 1
            problem.check_finite(theta, "descending", rate)
            if sums is not None:
                problem.check_finite(sums, "descending", rate)
            action = after_epoch(state, objective, reported, sums)
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
                state.inner.restart_average()
        return None

    @property
    def whole_batches(self):
        """Whether every epoch is one batch of all rows: a batch at least as large
        as the data, exactly shuffled (into one unit, or into a gathering
        buffer of at least one batch); other plans cut batches at their units."""
        whole = self.options.batch_size >= self.problem.source.n_rows
        return whole and getattr(self.epochs, "shuffle", None) == "exact"

    @property
    def backtracks(self):
        return self.options.learning_rate == "auto"

    @staticmethod
    def _diverged(state, theta, objective):
        if not (math.isfinite(objective) and np.all(np.isfinite(theta))):
            return True
        return objective > divergence_ceiling(state.watch.start, state.watch.lowest)


def run_unit(model, step, lr, average_start, rows, carry):
    """One call of the epoch kernel over ``rows``, threading the carry
    ``(theta, raw, slots, t, loss_sum, weight_sum)`` (module level: Dask workers run it)."""
    theta, raw, slots, t, loss_sum, weight_total = carry
    if not model.standardized:
        raw = theta  # one array: serializers that send a carry's arrays one by one lose the identity
    if has_entries(rows.X):
        sparse_rows = SparseRows(store_of(rows.X), rows.y, rows.w, rows.order, rows.bounds)
        unit_loss, unit_weight, t = sparse_minibatch_epoch(sparse_rows, model, step, theta, slots, t, lr, average_start)
        if model.standardized:
            to_raw(theta, model.center, model.inv_scale, model.n_out, raw)
    else:
        visited = rows.order.shape[0] if rows.order.shape[0] > 0 else rows.X.shape[0]
        kernel = _dense_epoch(model, step, visited * theta.shape[0])
        unit_loss, unit_weight, t = kernel(rows, model, step, theta, raw, slots, t, lr, average_start)
    return theta, raw, slots, t, loss_sum + unit_loss, weight_total + unit_weight


def _dense_epoch(model, step, work):
    """The epoch kernel for dense rows: the fused B=1 loop where it applies,
    else the batch loop, threaded when batches have several chunks and
    threads pay (the same bits either way)."""
    if takes(model, step):
        return stochastic_epoch
    threads = _threads.count(work, MINIBATCH_THREAD_WORK)
    if model.chunk_rows == 0 or threads < 2:
        return minibatch_epoch
    return functools.partial(threaded_minibatch_epoch, n_threads=threads)


def _check_lazy(problem, options):
    """Refuse what the lazy updates of sparse rows cannot do exactly (see
    :mod:`fastgd.optim.sparse_epoch`)."""
    if np.any(problem.center[~problem.source.centrable()] != 0.0):
        raise ValueError(
            "mini-batch descent on sparse rows needs standardized coordinates whose sparse columns are not centred, "
            "but this fit continues from centred ones (a first call on dense data, or a model fitted "
            "in full batch); refit with fit(), or use standardize=False"
        )
    if options.in_kernel_power > 0.0 and (problem.l1 > 0.0 or problem.l2 > 0.0):
        raise ValueError(
            "schedule='invscaling' changes the rate at every mini-batch, and the penalty steps of the "
            "features a batch does not touch on sparse rows are applied lazily at one rate; use "
            "another schedule (for example 'constant' or 'exponential') or penalty=None"
        )


def _scaled_l2(rule, problem, step):
    """Whether sparse epochs may take the scaled path: plain SGD (or averaged SGD
    before it averages) on one output in data units, one L2 weight for every feature."""
    d = problem.n_features
    return (
        rule.name in ("sgd", "asgd")
        and problem.n_out == 1
        and not problem.standardized
        and problem.l1 == 0.0
        and bool(np.all(step.l2w[:d] == step.l2w[0]))
        and bool(np.all(step.mask[:d] == 1.0))
    )
