"""A classifier's outputs from decision values: labels and probabilities.

Module-level functions of a block of rows, so Dask workers can run them.
"""

import numpy as np

from ..passes import decision


def labels(decision_values, classes):
    """Class labels: the largest logit, or the sign of a binary decision."""
    if decision_values.ndim == 2:
        return classes[np.argmax(decision_values, axis=1)]
    return classes[(decision_values > 0).astype(np.intp)]


def probabilities(decision_values):
    """Class probabilities, shape ``(n, n_classes)``; rows sum to 1."""
    if decision_values.ndim == 2:
        shifted = np.exp(decision_values - decision_values.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    p1 = sigmoid(decision_values)
    return np.column_stack([1.0 - p1, p1])


def sigmoid(z):
    """``1 / (1 + exp(-z))`` without overflow."""
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    ez = np.exp(z[~positive])
    out[~positive] = ez / (1.0 + ez)
    return out


def block_labels(X, theta, n_out, classes):
    return labels(decision(X, theta, n_out), classes)


def block_probabilities(X, theta, n_out):
    return probabilities(decision(X, theta, n_out))
