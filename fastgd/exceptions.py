"""Warnings and errors raised by fastgd.

fastgd never imports scikit-learn, but pipelines built with it catch
scikit-learn's own classes (``except sklearn.exceptions.NotFittedError``,
warning filters on ``DataConversionWarning``). :func:`compatible` gives, when
scikit-learn is already loaded, a subclass that derives from both fastgd's
class and scikit-learn's class of the same name, so either ``except``
clause works.
"""

import os
import sys
import warnings


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before meeting ``tol``."""


class DivergenceError(ValueError):
    """The objective became non-finite or grew steadily: the step is too large."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``."""


class DataWarning(UserWarning):
    """Something in the data needs attention, such as a constant column."""


class DataConversionWarning(DataWarning):
    """Input was converted to the shape fastgd needs (a column-vector y flattened)."""


_COMPATIBLE = {}


def compatible(cls):
    """``cls``, or its subclass that also derives from scikit-learn's class of the
    same name when ``sklearn.exceptions`` is already imported."""
    theirs = getattr(sys.modules.get("sklearn.exceptions"), cls.__name__, None)
    if theirs is None:
        return cls
    if cls not in _COMPATIBLE:
        _COMPATIBLE[cls] = type(cls.__name__, (cls, theirs), {"__module__": cls.__module__, "__doc__": cls.__doc__})
    return _COMPATIBLE[cls]


def warn_caller(message, category):
    """Warn, attributing the warning to the first frame outside fastgd (the user's call)."""
    package = os.path.dirname(__file__) + os.sep
    frame, level = sys._getframe(1), 2  # level 1 is this function
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
