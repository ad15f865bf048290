"""fastgd: linear models trained by gradient descent at memory-bandwidth speed."""

from . import _threads
from .data import Dataset, open_dataset
from .exceptions import ConvergenceWarning, DataWarning, DivergenceError, NotFittedError
from .linear_model import GDClassifier, GDRegressor, fit
from .persistence import ModelFileError, load
from .solvers import FitResult

__version__ = "0.1.0"

_threads.choose_layer()

__all__ = [
    "ConvergenceWarning",
    "DataWarning",
    "Dataset",
    "DivergenceError",
    "FitResult",
    "GDClassifier",
    "GDRegressor",
    "ModelFileError",
    "NotFittedError",
    "fit",
    "load",
    "open_dataset",
    "__version__",
]
