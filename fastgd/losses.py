"""Losses on the Python side: everything about a loss except its per-row kernel.

A :class:`Loss` gathers what the solver, the estimators and the command line
need to know about one loss: its kernel code and parameter, a bound on its
curvature (for the automatic step), whether it is smooth, where the
intercept starts, which targets it accepts and how a decision value becomes a
prediction. Adding a loss means adding its branch to
:mod:`fastgd.kernels.losses` and one entry to :data:`REGISTRY` here.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from . import kernels
from ._validation import numeric_target


@dataclass(frozen=True)
class Loss:
    """One loss: its kernel code and what the Python side knows about it."""

    name: str
    code: int
    #: Bound on the second derivative in the prediction (None: unbounded,
    #: measured at the starting point instead; see :meth:`curvature`).
    curvature_bound: float | None
    smooth: bool = True
    #: Whether targets are class labels (encoded by the classifier).
    classification: bool = False
    #: Outputs per row: 1, or one per class (the softmax; set from the classes).
    multinomial: bool = False
    #: The log link: predictions are ``exp(decision)`` and the intercept
    #: starts at ``log(mean(y))``.
    log_link: bool = False
    #: The intercept starts at the target mean: the loss's gradient is
    #: bounded, so from 0 an intercept far from the targets would move by at
    #: most the rate times the bound a step.
    starts_at_mean: bool = False

    def curvature(self, target_mean):
        """The curvature bound, or for an unbounded loss its value at the start.

        ``target_mean`` is a callable giving the weighted target mean (one pass),
        called only when needed.
        """
        if self.curvature_bound is not None:
            return self.curvature_bound
        return target_mean()

    def start_intercept(self, target_mean):
        """Where the intercept starts: 0, the weighted target mean
        (:attr:`starts_at_mean`), or ``log(mean(y))`` under the log link,
        where the curvature is representative."""
        if self.starts_at_mean:
            return target_mean()
        if not self.log_link:
            return 0.0
        mean = target_mean()
        if not mean > 0:
            raise ValueError(f"loss={self.name!r} needs a target with a positive mean; all targets are 0")
        return math.log(mean)

    def encode_target(self, raw, name):
        """Regression targets as float64, checked for this loss."""
        try:
            values = numeric_target(raw, name)
        except TypeError:
            example = next((v for v in np.ravel(raw) if not isinstance(v, (numbers.Real, np.number))), None)
            shown = repr(str(example)) if isinstance(example, str) else repr(example)
            raise TypeError(
                f"{name} holds values such as {shown}, not numbers: loss={self.name!r} needs a numeric "
                "target; for class labels use GDClassifier (on the command line: --loss log_loss or hinge)"
            ) from None
        if self.log_link and values.size and values.min() < 0:
            raise ValueError(f"loss={self.name!r} needs non-negative targets; {name} has {values.min()}")
        return values

    def inverse_link(self, decision):
        """The prediction of a regressor from its decision values."""
        return np.exp(decision) if self.log_link else decision


SQUARED_ERROR = Loss("squared_error", kernels.SQUARED_ERROR, 1.0)
HUBER = Loss("huber", kernels.HUBER, 1.0, starts_at_mean=True)
POISSON = Loss("poisson", kernels.POISSON, None, log_link=True)
LOG_LOSS = Loss("log_loss", kernels.LOG_LOSS, 0.25, classification=True)
#: Not smooth: its step is that of squared error and decays on plateaus.
HINGE = Loss("hinge", kernels.HINGE, 1.0, smooth=False, classification=True)
#: The log loss over K > 2 classes; the softmax's Hessian in the logits is at most I / 2.
MULTINOMIAL = Loss("log_loss", kernels.MULTINOMIAL, 0.5, classification=True, multinomial=True)
#: ``p**2 / 2`` whatever the target: its gradient sums are ``X1.T @ X1 @ v``,
#: what power iteration needs.
GRAM = Loss("gram", kernels.GRAM, 1.0)

#: The losses users choose by name.
REGISTRY = {loss.name: loss for loss in (SQUARED_ERROR, HUBER, POISSON, LOG_LOSS, HINGE)}
REGRESSION = tuple(name for name, loss in REGISTRY.items() if not loss.classification)
CLASSIFICATION = tuple(name for name, loss in REGISTRY.items() if loss.classification)


def for_classes(loss, n_classes):
    """The loss that fits ``n_classes`` classes: the softmax for the log loss over more than 2."""
    if n_classes > 2 and loss is LOG_LOSS:
        return MULTINOMIAL
    return loss
