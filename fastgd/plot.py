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
    """Write a PNG of the objective per epoch, with the validation loss when
    early stopping recorded one: the values above, and below, on a log scale,
    how far each epoch is from the best objective reached."""
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
    gap = history - history.min()
    floor = max(abs(history.min()) * 1e-16, np.finfo(float).tiny)
    bottom.semilogy(epochs, np.maximum(gap, floor), color="tab:blue", label="objective - best")
    if validation is not None:
        bottom.semilogy(epochs, np.maximum(validation - validation.min(), floor), color="tab:orange",
                        label="validation - best")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("distance to best (log)")
    bottom.legend()
    for axes in (top, bottom):
        axes.grid(True, which="both", alpha=0.3)
    top.set_title(title or f"{type(estimator).__name__}: {len(history)} epochs")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
