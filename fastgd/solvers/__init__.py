"""Solvers: the epoch loops of full-batch, L-BFGS and mini-batch descent, and their state."""

from .driver import FitResult, solve
from .options import SCHEDULES, SOLVERS, Options, schedule_factor
from .start import resume, start
from .state import SolverState

__all__ = ["FitResult", "Options", "SCHEDULES", "SOLVERS", "SolverState", "resume", "schedule_factor", "solve", "start"]
