"""Plain numpy references the tests compare fastgd against."""

import numpy as np


#: fastgd's default Huber threshold.
HUBER_EPSILON = 1.35


def loss_terms(p, y, loss):
    """Per-row loss at predictions ``p`` (classification targets in -1/+1)."""
    if loss == "squared_error":
        return 0.5 * (p - y) ** 2
    if loss == "log_loss":
        return np.logaddexp(0.0, -y * p)
    if loss == "poisson":
        return np.exp(p) - y * p
    if loss == "huber":  # fastgd's default epsilon
        e = np.abs(p - y)
        return np.where(e <= HUBER_EPSILON, 0.5 * e * e, HUBER_EPSILON * (e - 0.5 * HUBER_EPSILON))
    raise ValueError(loss)


def penalty(coef, l2=0.0, l1=0.0):
    return 0.5 * l2 * coef @ coef + l1 * np.abs(coef).sum()


def objective(X, y, coef, intercept, loss="squared_error", l2=0.0, l1=0.0, sample_weight=None):
    """The objective fastgd minimises, written directly from its definition."""
    terms = loss_terms(X @ coef + intercept, y, loss)
    return np.average(terms, weights=sample_weight) + penalty(coef, l2, l1)


def least_squares(X, y):
    """``(coef, intercept)`` of the unpenalized least-squares fit with an intercept (``numpy.linalg.lstsq``)."""
    solution, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    return solution[:-1], solution[-1]


def gradient_sums(X, y, coef, intercept, loss="squared_error", sample_weight=None):
    """Unnormalised gradient sums ``(X.T @ r, sum(r))`` and the loss sum."""
    p = X @ coef + intercept
    if loss == "squared_error":
        r = p - y
    elif loss == "log_loss":
        r = -y / (1.0 + np.exp(y * p))
    else:
        raise ValueError(loss)
    s = np.ones(len(y)) if sample_weight is None else sample_weight
    return X.T @ (s * r), (s * r).sum(), (s * loss_terms(p, y, loss)).sum()


def batch_gd(X, y, learning_rate, n_iter, fit_intercept=True):
    """The seeds' loop: batch descent from zeros, simultaneous update."""
    m = X.shape[0]
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(n_iter):
        err = X @ w + b - y
        grad_w, grad_b = X.T @ err / m, err.mean()
        w = w - learning_rate * grad_w
        if fit_intercept:
            b = b - learning_rate * grad_b
    return w, b


def minibatch_path(X, y, rule, lr, epochs, batch_size, momentum=0.9, beta1=0.9, beta2=0.999,
                   eps=1e-8, rate=None):
    """Least squares by the textbook update rules, batches in stored order.

    ``rate(t, epoch)`` gives the rate of step ``t`` (from 1); by default ``lr``.
    """
    m, d = X.shape
    theta = np.zeros(d + 1)
    X1 = np.column_stack([X, np.ones(m)])
    v = np.zeros(d + 1)
    s = np.zeros(d + 1)
    t = 0
    for epoch in range(1, epochs + 1):
        for start in range(0, m, batch_size):
            xb, yb = X1[start : start + batch_size], y[start : start + batch_size]
            g = xb.T @ (xb @ theta - yb) / len(yb)
            t += 1
            step = lr if rate is None else rate(t, epoch)
            if rule == "sgd":
                theta = theta - step * g
            elif rule in ("momentum", "nesterov"):
                v = momentum * v + g
                theta = theta - step * (g + momentum * v if rule == "nesterov" else v)
            elif rule == "adagrad":
                s = s + g * g
                theta = theta - step * g / (np.sqrt(s) + eps)
            elif rule == "rmsprop":
                s = beta2 * s + (1 - beta2) * g * g
                theta = theta - step * g / (np.sqrt(s) + eps)
            elif rule == "adam":
                v = beta1 * v + (1 - beta1) * g
                s = beta2 * s + (1 - beta2) * g * g
                theta = theta - step * (v / (1 - beta1**t)) / (np.sqrt(s / (1 - beta2**t)) + eps)
            else:
                raise ValueError(rule)
    return theta


def _prox(v, size, l2, l1):
    """Soft threshold by ``size * l1``, then shrink by ``1 + size * l2``."""
    return np.sign(v) * max(abs(v) - size * l1, 0.0) / (1.0 + size * l2)


def lazy_sparse_path(X, y, order, batch_size, rule, lr, l2=0.0, l1=0.0, loss="squared_error",
                     average_start=np.inf, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mini-batches of CSR rows ``X[order]``, every parameter updated eagerly at every step.

    The semantics the lazy kernel promises, written one step and one
    parameter at a time: features in the batch's rows take the rule's step;
    the others take the penalty's proximal step alone, with the rule's rate
    (plain and momentum rules) or the step size of their last update
    (adaptive rules), and their state does not change. Averaged SGD averages
    every parameter after step ``average_start``. The intercept is never
    penalised. Returns ``(theta, average)``, ``theta = [w, b]``.
    """
    d = X.shape[1]
    theta = np.zeros(d + 1)
    avg = np.zeros(d + 1)
    v = np.zeros(d + 1)
    s = np.zeros(d + 1)
    m1 = np.zeros(d + 1)
    updated = np.zeros(d + 1, dtype=int)  # the step of each parameter's last update
    penalty_l2 = np.r_[np.full(d, l2), 0.0]
    penalty_l1 = np.r_[np.full(d, l1), 0.0]
    t = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        xb = X[rows]
        p = xb @ theta[:d] + theta[d]
        if loss == "squared_error":
            r = p - y[rows]
        else:
            r = -y[rows] / (1.0 + np.exp(y[rows] * p))
        grad = np.r_[xb.T @ r, r.sum()] / len(rows)
        touched = set(xb.indices.tolist()) | {d}
        t += 1
        for j in range(d + 1):
            if j not in touched:
                if rule in ("adagrad", "rmsprop"):
                    size = lr / (np.sqrt(s[j]) + eps)
                elif rule == "adam":
                    k = updated[j]
                    size = lr / eps if k == 0 else lr / (np.sqrt(s[j] / (1 - beta2**k)) + eps)
                else:
                    size = lr
            else:
                g = grad[j]
                updated[j] = t
                if rule in ("sgd", "asgd"):
                    size = lr
                    theta[j] -= size * g
                elif rule in ("momentum", "nesterov"):
                    v[j] = momentum * v[j] + g
                    size = lr
                    theta[j] -= size * (g + momentum * v[j] if rule == "nesterov" else v[j])
                elif rule == "adagrad":
                    s[j] += g * g
                    size = lr / (np.sqrt(s[j]) + eps)
                    theta[j] -= size * g
                elif rule == "rmsprop":
                    s[j] = beta2 * s[j] + (1 - beta2) * g * g
                    size = lr / (np.sqrt(s[j]) + eps)
                    theta[j] -= size * g
                else:
                    m1[j] = beta1 * m1[j] + (1 - beta1) * g
                    s[j] = beta2 * s[j] + (1 - beta2) * g * g
                    size = lr / (np.sqrt(s[j] / (1 - beta2**t)) + eps)
                    theta[j] -= size * m1[j] / (1 - beta1**t)
            theta[j] = _prox(theta[j], size, penalty_l2[j], penalty_l1[j])
            if rule == "asgd" and t > average_start:
                avg[j] += (theta[j] - avg[j]) / (t - average_start)
    return theta, avg
