"""Learning-curve pictures; matplotlib is an optional extra (``fastgd[plot]``)."""

import numpy as np

PLOT_EXTRA = "pip install 'fastgd[plot]'"


def require_matplotlib():
    """Import matplotlib for files (no screen), or explain how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"plots need matplotlib: {PLOT_EXTRA}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(estimator, path, title=None):
    """Write a PNG of :func:`history_figure` to ``path``."""
    plt = require_matplotlib()
    figure = history_figure(estimator, title)
    figure.savefig(path)
    plt.close(figure)


def history_figure(estimator, title=None):
    """A figure of the objective per epoch, with the validation loss when
    early stopping recorded one: the values above, and below, on a log scale,
    how far each epoch is from the best reached. The title says how the fit
    ended (converged, not converged and why, interrupted)."""
    plt = require_matplotlib()
    history = np.asarray(estimator.loss_history_)
    epochs = np.arange(1, len(history) + 1)
    validation = getattr(estimator, "validation_loss_history_", None)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), dpi=100, sharex=True)
    top.plot(epochs, history, color="tab:blue", label="training objective")
    if validation is not None:
        top.plot(epochs, validation, color="tab:orange", label="validation loss")
    top.set_ylabel("objective")
    top.legend()
    # The best epoch itself is 0 above the best: no point on a log scale
    # (a floor there would draw a spike down to it).
    bottom.semilogy(epochs, _above_best(history), color="tab:blue", marker=".", label="objective - best")
    if validation is not None:
        bottom.semilogy(epochs, _above_best(validation), color="tab:orange", marker=".",
                        label="validation - best")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("distance to best (log)")
    bottom.legend()
    for axes in (top, bottom):
        axes.grid(True, which="both", alpha=0.3)
    count = f"{len(history)} epoch" + ("" if len(history) == 1 else "s")
    top.set_title(f"{title or type(estimator).__name__}: {count}, {outcome(estimator)}")
    figure.tight_layout()
    return figure


def _above_best(values):
    """How far each value is above the smallest, NaN where it is the smallest."""
    values = np.asarray(values, dtype=np.float64)
    gap = values - values.min()
    return np.where(gap > 0, gap, np.nan)


def outcome(estimator):
    """How a fit ended, in words: "converged", "not converged (max_iter)", "interrupted"."""
    if getattr(estimator, "interrupted_", False):
        return "interrupted"
    if estimator.converged_:
        return "converged"
    reason = getattr(estimator, "stop_reason_", None)
    if reason is None and getattr(estimator, "tol", "auto") is None:
        reason = "not judged: tol=None"
    return f"not converged ({reason})" if reason else "not converged"
