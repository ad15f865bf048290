"""The estimator options of ``fastgd fit``: one per GDRegressor / GDClassifier parameter.

Each option shows its valid values and one line on what it does; values are
parsed loosely here (numbers, true/false, none, JSON, text) and checked by the
estimator's own validation, so the command line and the library refuse the
same values with the same messages.
"""

import argparse
import inspect
import json

from . import losses
from .estimators.settings import OPTIMIZERS, PENALTIES, SHUFFLES, TOL_FULL_BATCH, TOL_MINIBATCH
from .solvers import SCHEDULES

#: Estimator parameters the command line leaves out: no meaning for a file.
NOT_OPTIONS = {"callbacks", "warm_start"}


def _names(values):
    return ", ".join("none" if v is None else str(v) for v in values)


#: name: (valid values, what it does). Every estimator parameter but
#: :data:`NOT_OPTIONS` has an entry (a test checks).
OPTIONS = {
    "loss": (_names(losses.REGRESSION + losses.CLASSIFICATION),
             "what is minimised; log_loss and hinge fit a classifier"),
    "penalty": (_names(PENALTIES), "regularization of the coefficients (never the intercept)"),
    "alpha": ("number >= 0", "penalty strength"),
    "l1_ratio": ("number in [0, 1]", "L1 share of the elasticnet penalty"),
    "fit_intercept": ("true, false", "fit an intercept"),
    "standardize": ("auto, true, false",
                    "descend in standardized coordinates (coefficients stay in data units); auto: true"),
    "batch_size": ("none, integer >= 1", "none: full batch; B: mini-batches of B rows; 1: stochastic"),
    "optimizer": (_names(OPTIMIZERS),
                  "update rule; auto: exact for least squares (at most 256 dense or 1024 sparse or categorical "
                  "features), else lbfgs (smooth, full batch), accelerated (L1), sgd (hinge), asgd (mini-batch)"),
    "learning_rate": ("auto, number > 0", "step size; auto: from the gradient's Lipschitz constant"),
    "schedule": (_names(("auto",) + SCHEDULES), "how the rate changes over epochs"),
    "line_search": ("true, false", "backtracking on every full-batch step"),
    "momentum": ("number in [0, 1)", "momentum and nesterov: velocity decay"),
    "beta1": ("number in [0, 1)", "adam: first-moment decay"),
    "beta2": ("number in [0, 1)", "adam and rmsprop: second-moment decay"),
    "eps": ("number > 0", "adaptive rules: added to the denominator"),
    "power_t": ("number >= 0", "invscaling schedule: rate / t**power_t"),
    "lr_decay": ("number in (0, 1]", "exponential schedule: rate times this every epoch"),
    "plateau_factor": ("number in (0, 1)", "plateau schedule: rate times this at each plateau"),
    "max_iter": ("integer >= 1", "epochs at most"),
    "tol": ("auto, none, number >= 0",
            "converged when the optimality measure falls to tol times its start; "
            f"auto: {TOL_FULL_BATCH:g} full batch, {TOL_MINIBATCH:g} mini-batch"),
    "n_iter_no_change": ("integer >= 1", "epochs without progress before a plateau or a stop"),
    "early_stopping": ("true, false", "hold out rows; stop when their loss stops falling"),
    "validation_fraction": ("number in (0, 1)", "rows held out for early stopping"),
    "shuffle": ("true, false, " + _names(SHUFFLES),
                "mini-batch row order: exact permutation, or blocks in random order (streamed data)"),
    "shuffle_buffer": ("auto, integer >= 1", "rows in the block-shuffle buffer; auto: 8-16 MiB of rows"),
    "random_state": ("none, integer", "seed for shuffles and the validation split"),
    "epsilon": ("number > 0", "huber: where the loss turns linear"),
    "max_categories": ("integer >= 1", "a string column with more distinct values is hashed into 2**18 buckets"),
    "handle_unknown": ("ignore, error", "predicting a category unseen in fit: add nothing (with a warning), or fail"),
    "verbose": ("integer >= 0", "log one line per epoch"),
    "class_weight": ('none, balanced, JSON such as \'{"a": 2}\'', "classifier: weight of each class's rows"),
}


def estimator_parameters():
    """``{name: default}`` of every GDRegressor and GDClassifier parameter the command line takes."""
    from .linear_model import GDClassifier, GDRegressor

    defaults = {}
    for cls in (GDRegressor, GDClassifier):
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if name != "self" and name not in NOT_OPTIONS:
                defaults.setdefault(name, p.default)
    defaults["loss"] = "squared_error"
    return defaults


def add_estimator_options(parser):
    """One ``--name`` option per estimator parameter, listing its values, what it does and its default."""
    group = parser.add_argument_group(
        "estimator options (as in GDRegressor / GDClassifier; a classification loss fits a GDClassifier)"
    )
    for name, default in sorted(estimator_parameters().items()):
        values, description = OPTIONS[name]
        shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else default
        group.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=_value, default=argparse.SUPPRESS,
            metavar="VALUE", help=f"{description} [{values}; default {shown}]",
            # a bare boolean flag means true
            **({"nargs": "?", "const": True} if values.startswith(("true", "auto, true")) else {}),
        )


def _value(text):
    """An option value: none, true/false, a number, JSON, or the text itself."""
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"invalid JSON {text!r}: {error}") from None
    return text
