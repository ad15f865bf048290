"""Model files: fitted estimators as plain JSON, never pickle.

Floats are written with ``repr``, which round-trips every float64 exactly, so
a loaded model predicts bit for bit like the one saved. Loading checks the
whole document (schema version, class name, parameter names, array shapes)
before building anything, and never executes code from the file.
"""

import json
import math
import os
import secrets
import stat
from pathlib import Path

import numpy as np

FORMAT = "fastgd-model"
#: Version 2 adds the category mappings of categorical columns; version 1 files are read too.
SCHEMA_VERSION = 2
READS = (1, 2)


class ModelFileError(ValueError):
    """A model file that cannot be read: malformed, truncated, or inconsistent."""


def save(estimator, path):
    """Write a fitted estimator to ``path`` as JSON (atomically)."""
    from . import __version__

    estimator._check_fitted()
    classes = getattr(estimator, "classes_", None)
    if classes is not None and classes.dtype.kind not in "biufUO":
        raise TypeError(
            f"classes of dtype {classes.dtype} cannot be saved to a model file (numbers and strings can); "
            "pickle the estimator, or fit on labels converted with astype(str)"
        )
    if classes is not None and classes.dtype.kind == "O" and not all(isinstance(c, (str, int, float, bool)) for c in classes):
        raise TypeError(
            f"classes {classes[:5].tolist()} cannot be saved to a model file (numbers and strings can); "
            "pickle the estimator, or fit on labels converted with astype(str)"
        )
    document = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "fastgd_version": __version__,
        "estimator": type(estimator).__name__,
        "params": {name: _param_to_json(value) for name, value in estimator.get_params().items()},
        "n_features_in": int(estimator.n_features_in_),
        "feature_names": _names(estimator),
        "categories": _categories(estimator),
        "coef": np.asarray(estimator.coef_, dtype=np.float64).tolist(),
        "intercept": np.asarray(estimator.intercept_, dtype=np.float64).tolist(),
        "classes": None if classes is None else {"dtype": classes.dtype.str, "values": classes.tolist()},
        "standardization": _standardization(estimator),
        "history": {
            "n_iter": int(estimator.n_iter_),
            "converged": bool(estimator.converged_),
            "stop_reason": getattr(estimator, "stop_reason_", None),
            "optimality": _finite_or_none(getattr(estimator, "optimality_", None)),
            "interrupted": bool(getattr(estimator, "interrupted_", False)),
            "learning_rate": float(estimator.learning_rate_),
            "optimizer": getattr(estimator, "optimizer_", None),
            "loss": np.asarray(estimator.loss_history_, dtype=np.float64).tolist(),
            "validation_loss": _optional_list(getattr(estimator, "validation_loss_history_", None)),
        },
    }
    text = json.dumps(document, indent=1, allow_nan=False)
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # write the file the link names, keeping the link
    partial, handle = _new_partial(path)
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        if path.exists():  # a model written over another keeps its permissions, as open() would
            os.chmod(partial, stat.S_IMODE(path.stat().st_mode))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _new_partial(path):
    """A new file next to ``path`` to write and then rename: readers never see half a model.

    Created with mode 0o666 less the umask, as ``open`` would (``tempfile``
    would make it 0o600 whatever the umask).
    """
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write '{path}': no directory '{directory}'")
    for _ in range(100):
        partial = directory / f".{path.name}.{secrets.token_hex(6)}.partial"
        try:
            return partial, os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to '{path}'")


def load(path):
    """Read a model written by :func:`save`; return the fitted estimator.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        A file that is not valid JSON (truncated, say), not a fastgd model,
        from an unknown schema version, or whose contents are inconsistent.
    """
    from .estimators.settings import settings as checked_settings
    from .linear_model import GDClassifier, GDRegressor

    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no such model file: '{path}'") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(f"'{path}' is not a valid model file (truncated or corrupt?): {error}") from None
    check = _Checker(path)
    check.that(isinstance(document, dict) and document.get("format") == FORMAT, "it is not a fastgd model file")
    version = document.get("schema_version")
    check.that(
        version in READS,
        f"unknown schema version {version!r}; this fastgd reads versions {', '.join(map(str, READS))}",
    )
    known = {cls.__name__: cls for cls in (GDRegressor, GDClassifier)}
    name = document.get("estimator")
    check.that(name in known, f"unknown estimator class {name!r}; known: {', '.join(sorted(known))}")
    cls = known[name]
    params = check.field(document, "params", dict)
    unknown = sorted(set(params) - set(cls._param_names()))
    check.that(not unknown, f"unknown parameters for {name}: {', '.join(unknown)}")
    estimator = cls(**{key: _param_from_json(value) for key, value in params.items()})
    try:
        checked_settings(estimator)
    except (TypeError, ValueError) as error:
        check.fail(f"invalid parameters: {error}")

    d = check.field(document, "n_features_in", int)
    check.that(d >= 1, f"n_features_in must be at least 1, got {d}")
    classes = document.get("classes")
    if name == "GDClassifier":
        check.that(isinstance(classes, dict), "a classifier needs its classes")
        classes = check.array(classes.get("values"), "classes", dtype=np.dtype(check.field(classes, "dtype", str)))
        check.that(classes.ndim == 1 and len(classes) >= 2, f"a classifier needs at least 2 classes, got {len(classes)}")
        check.that(len(np.unique(classes)) == len(classes), "the classes are not distinct")
    else:
        check.that(classes is None, "a regressor has no classes")
    names = document.get("feature_names")
    if names is not None:
        check.that(
            isinstance(names, list) and len(names) == d and all(isinstance(n, str) for n in names),
            f"feature_names must be {d} strings",
        )
    categories = _categories_from(check, document.get("categories"), names)
    p = d + sum(c.size - 1 for c in categories.values())  # each categorical column stands for c.size coefficients
    n_out = len(classes) if name == "GDClassifier" and len(classes) > 2 else 1
    shape = (p,) if n_out == 1 else (n_out, p)
    coef = check.array(document.get("coef"), "coef", shape=shape)
    intercept = check.array(document.get("intercept"), "intercept", shape=() if n_out == 1 else (n_out,))
    history = check.field(document, "history", dict)
    loss = check.array(history.get("loss"), "history.loss")
    check.that(loss.ndim == 1, "history.loss must be a list of numbers")

    estimator.coef_ = coef
    estimator.intercept_ = float(intercept) if n_out == 1 else intercept
    estimator.n_features_in_ = d
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    if categories:
        estimator.categories_ = categories
        numeric = [n for n in names if n not in categories]
        from .data.categorical import Layout

        estimator._feature_names_out_ = Layout(numeric, list(categories.values())).feature_names()
    if name == "GDClassifier":
        estimator.classes_ = classes
    standardization = document.get("standardization")
    if standardization is not None:
        check.that(isinstance(standardization, dict), "standardization must be an object")
        estimator.feature_mean_ = check.array(standardization.get("mean"), "standardization.mean", shape=(p,))
        estimator.feature_scale_ = check.array(standardization.get("scale"), "standardization.scale", shape=(p,))
    estimator.n_iter_ = check.field(history, "n_iter", int)
    estimator.converged_ = check.field(history, "converged", bool)
    reason = history.get("stop_reason")
    check.that(reason is None or isinstance(reason, str), "history.stop_reason must be a string")
    estimator.stop_reason_ = reason
    optimality = history.get("optimality")
    check.that(optimality is None or isinstance(optimality, (int, float)), "history.optimality must be a number")
    estimator.optimality_ = float("nan") if optimality is None else float(optimality)
    estimator.interrupted_ = bool(history.get("interrupted", False))
    estimator.learning_rate_ = float(check.field(history, "learning_rate", (int, float)))
    optimizer = history.get("optimizer")  # absent from files written before it was recorded
    check.that(optimizer is None or isinstance(optimizer, str), "history.optimizer must be a string")
    estimator.optimizer_ = optimizer
    estimator.loss_history_ = loss
    if history.get("validation_loss") is not None:
        estimator.validation_loss_history_ = check.array(history["validation_loss"], "history.validation_loss")
    return estimator


class _Checker:
    """Raises :class:`ModelFileError` naming the file and what is wrong in it."""

    def __init__(self, path):
        self.path = path

    def fail(self, message):
        raise ModelFileError(f"invalid model file '{self.path}': {message}")

    def that(self, condition, message):
        if not condition:
            self.fail(message)

    def field(self, document, key, kind):
        value = document.get(key) if isinstance(document, dict) else None
        ok = isinstance(value, kind) and not (kind in (int, (int, float)) and isinstance(value, bool))
        self.that(ok, f"{key!r} is missing or not of the right type")
        return value

    def array(self, value, name, shape=None, dtype=np.float64):
        try:
            array = np.array(value, dtype=dtype)
        except (TypeError, ValueError):
            self.fail(f"{name} is not an array of {dtype}")
        if shape is not None:
            self.that(array.shape == shape, f"{name} has shape {array.shape}, expected {shape}")
        if array.dtype.kind == "f":
            self.that(np.all(np.isfinite(array)), f"{name} holds non-finite values")
        return array


def _names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _categories(estimator):
    """The category mapping of each categorical column, in coefficient order."""
    found = getattr(estimator, "categories_", None)
    if not found:
        return None
    out = []
    for name, categories in found.items():
        if not all(isinstance(v, (str, int, float, bool)) for v in categories.values):
            kinds = sorted({type(v).__name__ for v in categories.values})
            raise TypeError(
                f"categories of column {name!r} are of type {', '.join(kinds)}; a model file holds "
                "strings and numbers: convert the column (for example to strings) before fitting, or pickle the estimator"
            )
        out.append({"column": name, "values": list(categories.values), "null": categories.null, "bits": categories.bits})
    return out


def _categories_from(check, found, names):
    """``{column: Categories}`` from a model file's list, checked against the feature names."""
    from .data.categories import Categories

    if found is None:
        return {}
    check.that(isinstance(found, list) and names is not None, "categories must be a list, with feature_names")
    out = {}
    for item in found:
        column = check.field(item, "column", str)
        values = check.field(item, "values", list)
        bits = check.field(item, "bits", int)
        null = check.field(item, "null", bool)
        check.that(column in names and column not in out, f"categories name column {column!r}, not a feature or twice")
        check.that(all(isinstance(v, (str, int, float, bool)) for v in values), f"categories of {column!r} must be strings or numbers")
        check.that(0 <= bits <= 30 and (bits == 0 or not values), f"categories of {column!r}: bad hash bits {bits}")
        out[column] = Categories(column, tuple(values), null, bits)
        check.that(out[column].size >= 1, f"column {column!r} has no categories")
    return out


def _standardization(estimator):
    if not hasattr(estimator, "feature_mean_"):
        return None
    return {"mean": estimator.feature_mean_.tolist(), "scale": estimator.feature_scale_.tolist()}


def _finite_or_none(value):
    return None if value is None or not math.isfinite(value) else float(value)


def _optional_list(values):
    return None if values is None else np.asarray(values, dtype=np.float64).tolist()


def _param_to_json(value):
    """A parameter as JSON: numbers, strings, booleans, None; class weights as pairs."""
    if isinstance(value, dict):
        return {"pairs": [[_param_to_json(k), _param_to_json(v)] for k, v in value.items()]}
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    # Generators, callbacks: not data; a loaded model predicts without them.
    return None


def _param_from_json(value):
    if isinstance(value, dict) and set(value) == {"pairs"}:
        return {k: v for k, v in value["pairs"]}
    return value
