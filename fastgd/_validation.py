"""Checks at the boundary: every public entry point validates here, once."""

import math
import numbers

import numpy as np

from .exceptions import DataConversionWarning, compatible, warn_caller


def readonly(a):
    """A read-only view of ``a`` (no copy).

    Kernels always receive read-only arrays: one compiled specialization
    serves numpy arrays, memory maps and Arrow buffers alike, and the
    caller's data cannot be written through them.
    """
    if hasattr(a, "readonly"):  # coded rows: several arrays
        return a.readonly()
    view = a.view()
    view.flags.writeable = False
    return view


def kernel_dtype(dtype):
    """float32 for float32/float16 data, float64 for every other number."""
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize <= 4 else np.dtype(np.float64)


def is_sparse(X):
    """Whether ``X`` is a scipy.sparse matrix or array (checked without importing scipy)."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def check_X(X, name="X"):
    """Return ``X`` as a 2-D numeric numpy array, without copying numeric arrays.

    An object array of numbers is converted (a copy: its values are Python
    objects); one holding anything else is a TypeError naming a value.
    """
    if is_sparse(X):
        raise TypeError(f"{name} is a scipy.sparse matrix: pass it to fit, predict or open_dataset, which take sparse input")
    if not isinstance(X, np.ndarray):
        if not hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
            raise TypeError(f"{name} must be an array, got {type(X).__name__}")
        X = np.asarray(X)
    if X.dtype.kind == "O":
        X = _numbers_of_objects(X, name)
    _check_numeric(X.dtype, name)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got an array of shape {X.shape}. Reshape "
            f"your data: {name}.reshape(-1, 1) if it has one feature, {name}.reshape(1, -1) if it is one row"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has 0 rows (shape={X.shape}); at least 1 row is required")
    if X.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    return X


def _numbers_of_objects(X, name):
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError) as error:
        flat = X.ravel()
        bad = next((v for v in flat if not isinstance(v, (numbers.Real, np.number))), flat[0])
        raise TypeError(
            f"{name} has dtype object holding {bad!r} ({error}); fastgd needs numbers (bool, integer or float)"
        ) from None


def check_target(y, n_rows, name="y"):
    """Return ``y`` as a 1-D array of length ``n_rows``; ``(n, 1)`` is flattened, with a warning."""
    if not isinstance(y, np.ndarray):
        if not hasattr(y, "__array__") and not isinstance(y, (list, tuple)):
            raise TypeError(f"{name} must be an array, got {type(y).__name__}")
        y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warn_caller(
            f"A column-vector y was passed when a 1d array was expected: {name} of shape {y.shape} "
            f"was flattened to ({y.shape[0]},)",
            compatible(DataConversionWarning),
        )
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {y.shape}")
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {y.shape[0]}; they must match")
    if y.dtype.kind == "O":
        missing = np.flatnonzero(np.equal(y, None) | np.not_equal(y, y))  # None, or NaN (not equal to itself)
        if missing.size:
            raise ValueError(
                f"{name} has {missing.size} missing value{'s' if missing.size > 1 else ''} (None or NaN), "
                f"the first at row {missing[0]}; remove those rows or fill them in"
            )
    return y


def numeric_target(y, name="y"):
    """Targets as float64 (no copy when they already are); an object array of numbers is converted."""
    if y.dtype.kind == "O":
        y = _numbers_of_objects(y, name)
    _check_numeric(y.dtype, name)
    return np.asarray(y, dtype=np.float64)


def mixed_types(values, name="y"):
    """A TypeError naming ``name`` and the types its values mix (numbers and strings, say)."""
    kinds = sorted({type(value).__name__ for value in np.asarray(values, dtype=object).ravel()})
    if len(kinds) == 1:
        return TypeError(f"{name} holds values of type {kinds[0]}, which cannot be held in one column of numbers or strings")
    return TypeError(
        f"{name} mixes values of types {' and '.join(kinds)}, which cannot be sorted together or held in one "
        "column: give values of one type (all strings, or all numbers)"
    )


def unique_labels(labels, name="y", **kwargs):
    """``numpy.unique`` of class labels; a TypeError naming ``name`` for labels of
    types that cannot be ordered together (see :func:`mixed_types`)."""
    try:
        return np.unique(labels, **kwargs)
    except TypeError:
        raise mixed_types(labels, name) from None


def check_sample_weight(sample_weight, n_rows):
    """Finite, non-negative float64 weights with a positive sum, or an empty array."""
    if sample_weight is None:
        return np.empty(0)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_rows, sample_weight, dtype=np.float64)
    w = check_target(sample_weight, n_rows, name="sample_weight")
    _check_numeric(w.dtype, "sample_weight")
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        row = int(np.argmin(np.isfinite(w)))
        raise ValueError(f"sample_weight contains NaN or infinity; row {row} is {w[row]}")
    if np.any(w < 0):
        raise ValueError(f"sample_weight must be non-negative; row {int(np.argmax(w < 0))} is {w[w < 0][0]}")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one row needs a positive weight")
    return w


def _check_numeric(dtype, name):
    if dtype.kind == "c":
        raise ValueError(f"{name} has dtype {dtype}: Complex data not supported; fastgd fits real numbers")
    if dtype.kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {dtype}; fastgd needs numbers (bool, integer or float)"
        )


def first_nonfinite(blocks, feature_names=None):
    """Describe the first NaN or infinity in a source's blocks, or return None.

    Only called after a pass produced a non-finite sum, so normal fits never
    pay for a separate scan.
    """
    for block in blocks:
        X = getattr(block.X, "values", block.X)  # coded rows: the numeric columns come first
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            column = f"column {j}" if feature_names is None else f"column {feature_names[j]!r}"
            return f"X contains {describe(X[i, j])} at row {block.start + i}, {column}"
        if block.y is not None:
            bad = ~np.isfinite(block.y)
            if bad.any():
                i = int(np.argmax(bad))
                return f"y contains {describe(block.y[i])} at row {block.start + i}"
    return None


def describe(value):
    """A non-finite value as messages name it: NaN, inf or -inf."""
    return "NaN" if math.isnan(value) else repr(float(value))


def check_real(value, name, low=-math.inf, high=math.inf, low_open=False, high_open=False):
    """``value`` as a float in the interval, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {shown}")
    value = float(value)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or below or above:
        bound = f"{'>' if low_open else '>='} {low:g}" if low > -math.inf else ""
        if high < math.inf:
            bound += (" and " if bound else "") + f"{'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{name} must be finite{' and ' + bound if bound else ''}, got {value!r}")
    return value


def check_integer(value, name, low=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_boolean(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
