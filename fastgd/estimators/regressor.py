"""Linear regression fitted by gradient descent."""

import numpy as np

from .. import losses
from .._params import signature_with
from .._validation import numeric_target
from .base import GDBase


class GDRegressor(GDBase):
    """Linear regression fitted by gradient descent.

    Minimises the mean loss plus ``penalty(w)``, where the penalty is
    scikit-learn's SGD one: ``alpha/2 ||w||**2`` (``"l2"``), ``alpha ||w||_1``
    (``"l1"``) or ``alpha * (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||**2)``
    (``"elasticnet"``). The intercept is never penalised.

    Losses, with ``p = x @ w + b``:

    - ``"squared_error"``: ``(p - y)**2 / 2``. The 1/(2m) cost makes the
      gradient ``X.T @ err / m``; texts that write the cost as
      ``(1/m) sum(err**2)`` use a learning rate half of ours for the same steps.
    - ``"huber"``: squared error for ``|p - y| <= epsilon``, linear beyond.
    - ``"poisson"``: ``exp(p) - y p``, the Poisson deviance with a log link
      (targets must be non-negative); scikit-learn's ``PoissonRegressor``.

    Parameters
    ----------
    loss : {"squared_error", "huber", "poisson"}
    penalty : {None, "l2", "l1", "elasticnet"}
    alpha : float, penalty strength (ignored when ``penalty=None``)
    l1_ratio : float in [0, 1], the L1 share of ``"elasticnet"``
    fit_intercept : bool
    standardize : "auto" or bool
        Descend in the coordinates of standardized columns (means and
        standard deviations from one extra pass; X is never rescaled). The
        objective is unchanged, penalty included, and ``coef_`` is in the
        data's units; badly scaled features stop slowing descent down. A
        column of zero variance gets coefficient 0 and a warning. "auto" (the
        default) standardizes.
    batch_size : int or None
        None for full-batch descent, B for mini-batches of B rows, 1 for
        stochastic descent.
    optimizer : {"auto", "exact", "accelerated", "lbfgs", "sgd", "asgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
        "auto" is, in full batch, "exact" for least squares (any penalty,
        ``learning_rate="auto"``) of at most 256 dense features or 1024
        sparse or categorical ones; otherwise "lbfgs" for smooth problems (no
        L1 share, ``learning_rate="auto"``), "accelerated" with an L1 share or
        a given rate, and plain "sgd" for the hinge; "asgd" for mini-batches.
        "exact" solves least squares from the sums of one pass (the Gram
        matrix of the rows): Cholesky in standardized coordinates with an L2
        penalty, least norm without one, coordinate descent on the Gram
        matrix with an L1 share; it then measures the result like an epoch
        and, if rounding left it short of ``tol``, continues with L-BFGS
        (FISTA with an L1 share); ``partial_fit`` epochs take those.
        "accelerated" is Nesterov's
        method (FISTA, proximal with L1) with adaptive restart, full batch
        only. "lbfgs" is limited-memory BFGS with a backtracking line search,
        full batch, smooth losses and penalties only: usually the fewest
        passes to a tight optimum. "asgd" is SGD whose coefficients are the
        mean of the iterates from the second epoch on. The rest are the usual
        rules, with ``momentum``, ``beta1``, ``beta2`` (Adam; RMSProp's decay)
        and ``eps``.
    learning_rate : "auto" or float
        "auto" takes ``1/L`` in full batch, where ``L`` is the Lipschitz
        constant of the gradient (power iteration on ``X1.T X1 / m`` times the
        loss's curvature bound), halving it whenever a step still raises the
        objective. Mini-batches take ``0.5 / L_B`` with
        ``L_B = L + (L_max - L)/B``, ``L_max`` the largest per-row constant,
        and retake at half the rate an epoch that diverges. Momentum rules
        take ``1 - momentum`` times that; adaptive rules that times the RMS of
        the first gradient. A float fixes the rate (L-BFGS ignores it).
    schedule : {"auto", "constant", "invscaling", "exponential", "cosine", "plateau"}
        How the rate changes: ``lr / t**power_t`` per step (per epoch in full
        batch), ``lr * lr_decay**epoch``, a cosine from ``lr`` to 0 over
        ``max_iter`` epochs, or times ``plateau_factor`` whenever the objective
        stalls for ``n_iter_no_change`` epochs (the fit then ends when a cut no
        longer lowers the median objective). "auto" is "constant" for
        full-batch "lbfgs", "accelerated" and "sgd" on smooth losses,
        "plateau" otherwise.
    line_search : bool
        Backtracking (Armijo) on every full-batch step, from twice the last
        accepted rate.
    momentum, beta1, beta2, eps, power_t, lr_decay, plateau_factor : float
    max_iter : int, epochs at most
    tol : "auto", float or None
        The fit has converged when the largest violation of the optimality
        conditions, in standardized units, is at most ``tol`` times its value
        at the starting model (see :mod:`fastgd.optimality`). "auto" is 1e-7
        in full batch and 5e-4 for mini-batches (1e-7 when one exactly
        shuffled batch holds every row: its gradient is exact). None runs ``max_iter`` epochs
        without judging convergence. A fit that stalls (a failed line search,
        ``n_iter_no_change`` epochs without progress in the objective or the
        measure) or reaches ``max_iter`` first warns once, naming the fix.
    n_iter_no_change : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the rows (drawn from
        ``random_state``, block by block) and stop when their mean loss has
        made no new best for ``n_iter_no_change`` epochs and no longer trends
        down; the best coefficients are restored (``stop_reason_`` is then
        "early_stopping", ``converged_`` False).
    validation_fraction : float in (0, 1)
    shuffle : bool, "exact" or "block"
        How mini-batch epochs order the rows (a fresh order every epoch).
        "exact" is a full permutation; it needs random row access (arrays,
        memory maps, a tensor column in one buffer). "block" visits the
        natural blocks (row groups, record batches, slices of about 256 KiB of
        arrays) in random order and permutes rows within a buffer of
        ``shuffle_buffer`` rows: it reads streamed data in order and keeps
        memory bounded, but a batch draws from one buffer, not the whole data.
        True is "exact" where possible, else "block"; False keeps stored order.
    shuffle_buffer : "auto" or int
        Rows in the block-shuffle buffer (at least one block); "auto" is 8-16
        MiB of rows (four times the largest power of two of rows within 4 MiB).
    random_state : None, int, numpy Generator or SeedSequence
        Seeds the shuffles and the validation split.
    warm_start : bool
        Start ``fit`` from the current coefficients (the optimizer's state
        starts afresh).
    callbacks : callable or list of callables
        ``callback(epoch, objective, coef)`` after every epoch; returning True
        stops the fit.
    epsilon : float, the Huber threshold
    max_categories : int
        A categorical column (string or dictionary) with more distinct values
        is hashed into ``2**18`` signed buckets (collisions share a weight).
    handle_unknown : "ignore" or "error"
        A category unseen in fit adds nothing to a prediction (counted in a
        ``DataWarning``), or raises a ValueError.
    verbose : int, log one line per epoch through the ``fastgd`` logger

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int, epochs run
    loss_history_ : ndarray, the objective after each epoch, at the
        reported coefficients (for mini-batches with ``tol=None``, the mean
        batch loss during the epoch)
    validation_loss_history_ : ndarray, with early stopping
    converged_ : bool, whether ``optimality_ <= tol`` (and, for a mini-batch fit of
        least squares, its objective within 1e-3 of the optimum, solved from one
        more pass: see :func:`fastgd.solvers.exact.excess`)
    optimality_ : float, the optimality measure at the end, relative to the
        starting model's (NaN where not measured: ``tol=None``, ``partial_fit``)
    stop_reason_ : str or None, why the fit ended: "converged", "stalled",
        "max_iter", "early_stopping", "callback" or "interrupted"
    interrupted_ : bool, whether Ctrl-C stopped the fit (a ``KeyboardInterrupt``
        inside ``fit`` keeps the last completed epoch's coefficients, then
        propagates)
    learning_rate_ : float, the base rate at the end (1.0 for "lbfgs", which searches
        its own steps, and for the exact solve, which takes none)
    optimizer_ : str, the method that took the last fit's steps: "exact",
        "lbfgs", "accelerated" or an update rule ("sgd", "asgd", ...), or
        "exact, then lbfgs" where rounding left the exact solve short of ``tol``
        (None in models saved before it was recorded)
    n_features_in_ : int, the input columns (a categorical column counts once)
    feature_names_in_ : ndarray of str, when fitted on named columns
    categories_ : dict, with categorical columns: column name to its
        :class:`~fastgd.data.categories.Categories` (values in coefficient
        order, or the hash bits); ``get_feature_names_out()`` names each
        coefficient (``"column=value"``); numeric columns come first in ``coef_``
    feature_mean_, feature_scale_ : ndarray, with standardization (one per coefficient)

    Notes
    -----
    A fitted estimator holds its coefficients and a small solver state (the
    optimizer's slots, the rate, the epoch count), never the training data:
    it pickles small and releases memory maps and Dask partitions after
    ``fit``. Every call reads the parameters again; a call that fails
    (divergence, bad data) leaves the estimator as it was.
    """

    _LOSSES = losses.REGRESSION
    _estimator_type = "regressor"

    def __init__(self, loss="squared_error", **params):
        super().__init__(loss, **params)

    __init__.__signature__ = signature_with(GDBase.__init__, loss="squared_error")

    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over ``X``, continuing from ``coef_``.

        Parameters are read again on every call: a new ``alpha``, ``loss`` or
        ``learning_rate`` takes effect, and a new ``optimizer`` starts its own
        state from the current coefficients. The automatic rate and the
        standardization are measured on the first call's data and kept (the
        rate is measured again when what it depends on changes).
        ``early_stopping`` does not apply.
        """
        return self._partial_fit(X, y, sample_weight, None)

    def _target_encoder(self, source, name, classes):
        loss = losses.REGISTRY[self.loss]

        def encode(raw):
            return loss.encode_target(raw, name)

        return encode, None, None

    def predict(self, X):
        """Predicted values (the mean ``exp(X @ coef_ + intercept_)`` for Poisson)."""
        decision = self._decision(X)
        return losses.REGISTRY[self.loss].inverse_link(decision)

    def score(self, X, y=None, sample_weight=None):
        """Coefficient of determination R^2 of the prediction."""
        prediction, y, w = self._scored(X, y, sample_weight)
        y = numeric_target(y)
        residual = np.average((y - prediction) ** 2, weights=w)
        spread = np.average((y - np.average(y, weights=w)) ** 2, weights=w)
        if spread == 0.0:
            return 1.0 if residual == 0.0 else 0.0
        return float(1.0 - residual / spread)
