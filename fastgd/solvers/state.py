"""Solver state: typed, owned by the estimator between calls, and small.

A :class:`SolverState` holds where a descent stands: the parameters in the
solver's coordinates, the state of the method that moves them (an update
rule's :class:`~fastgd.optim.rules.RuleState`, FISTA's momentum, L-BFGS's
curvature pairs), the rate, the epoch count, the shuffle generator and what
divergence detection remembers. It never holds the data: O(parameters) in
size, it pickles small and keeps no memory map or Dask partition alive.

Every method declares its state type with an ``init``; :func:`resume`
checks a state against the method a continuing fit asks for and starts a
fresh one for another method, never reinterpreting memory.
"""

import math
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class FistaState:
    """Accelerated descent: the last proximal point and FISTA's momentum counter."""

    previous: np.ndarray
    momentum: float = 1.0

    @classmethod
    def init(cls, theta):
        return cls(theta.copy())

    def belongs_to(self, n_params):
        return self.previous.shape == (n_params,)

    def copy(self):
        return FistaState(self.previous.copy(), self.momentum)


@dataclass
class LbfgsState:
    """L-BFGS: the last (step, gradient change, their inner product) triples."""

    pairs: list = field(default_factory=list)

    @classmethod
    def init(cls, theta):
        return cls()

    def belongs_to(self, n_params):
        return all(s.shape == (n_params,) for s, *_ in self.pairs)

    def copy(self):
        # The pairs are never changed in place, only added and dropped.
        return LbfgsState(list(self.pairs))


@dataclass
class Watch:
    """What convergence and divergence detection remember across epochs and calls."""

    #: The objective at the start of the descent (or of its first epoch).
    start: float = math.nan
    lowest: float = math.inf
    previous: float = math.inf
    #: Epochs in a row the objective rose.
    rises: int = 0
    #: The optimality measure at the starting model, which ``tol`` is relative to.
    scale: float = math.nan


@dataclass
class SolverState:
    """Where a descent stands; see the module docstring."""

    #: The optimizer this state belongs to: a rule's name, "accelerated" or "lbfgs".
    method: str
    #: Parameters in solver coordinates (in full batch, the point the next
    #: pass evaluates).
    theta: np.ndarray
    #: The method's own state (RuleState, FistaState or LbfgsState).
    inner: object
    #: The base rate, before schedules, and the settings it was measured for
    #: (None: given by the user).
    lr: float
    rate_key: tuple | None
    rng: np.random.Generator
    #: ``(mean, scale)`` of the standardized coordinates of ``theta``, or None
    #: for data units.
    coordinates: tuple | None = None
    #: Epochs run, across calls (schedules count from here).
    epochs: int = 0
    watch: Watch = field(default_factory=Watch)
    #: The parameters, in data units, that the estimator reported from this
    #: state: a continuing fit reuses the state only while they are unchanged.
    reported: np.ndarray | None = None

    def copy(self):
        """A copy sharing nothing mutable: a step that fails leaves the original untouched."""
        generator = type(self.rng.bit_generator)()
        generator.state = self.rng.bit_generator.state
        return replace(
            self,
            theta=self.theta.copy(),
            inner=self.inner.copy(),
            rng=np.random.Generator(generator),
            watch=replace(self.watch),
            reported=None if self.reported is None else self.reported.copy(),
        )

    def solution(self):
        """The parameters (solver coordinates) the method reports: the iterate,
        or the running average of an averaging rule."""
        solution = getattr(self.inner, "solution", None)
        return self.theta.copy() if solution is None else solution(self.theta)
