"""Warnings and errors raised by fastgd."""


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before meeting ``tol``."""


class DivergenceError(ValueError):
    """The objective became non-finite or grew steadily: the step is too large."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class DataWarning(UserWarning):
    """Something in the data needs attention, such as a constant column."""
