"""Real data sets that ship inside scikit-learn and statsmodels, with their
optima computed by those libraries at tight tolerances.

Nothing here is generated: the tests fit what fastgd's users fit. The
objective is fastgd's (see ``naive.objective``); each reference solver's
solution is scored with it.
"""

import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np
import statsmodels.api as sm
from scipy.special import logsumexp
from sklearn import datasets as skd
from sklearn.linear_model import LassoLars, LogisticRegression, PoissonRegressor, Ridge

from .naive import HUBER_EPSILON, objective

#: The NIST StRD certified least-squares coefficients of the Longley data
#: (https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml): intercept,
#: GNPDEFL, GNP, UNEMP, ARMED, POP, YEAR.
LONGLEY_CERTIFIED = np.array([
    -3482258.63459582, 15.0618722713733, -0.358191792925910e-01, -2.02022980381683,
    -1.03322686717359, -0.511041056535807e-01, 1829.15146461355,
])


@dataclass(frozen=True)
class RealProblem:
    name: str
    loader: object
    loss: str
    penalty: str | None = None
    alpha: float = 0.0

    @property
    def label(self):
        penalty = "none" if self.penalty is None else f"{self.penalty} {self.alpha:g}"
        return f"{self.name}-{self.loss}-{penalty}"

    @property
    def l2(self):
        return self.alpha if self.penalty == "l2" else 0.0

    @property
    def l1(self):
        return self.alpha if self.penalty == "l1" else 0.0

    @property
    def classifier(self):
        return self.loss == "log_loss"

    def data(self):
        return _load(self.loader)

    def estimator(self, **params):
        import fastgd

        cls = fastgd.GDClassifier if self.classifier else fastgd.GDRegressor
        extra = {} if self.classifier else {"loss": self.loss}
        return cls(penalty=self.penalty, alpha=self.alpha, **extra, **params)

    def value(self, coef, intercept):
        """fastgd's objective at ``(coef, intercept)``."""
        X, y = self.data()
        if not self.classifier:
            return objective(X, y, coef, intercept, self.loss, l2=self.l2, l1=self.l1)
        classes = np.unique(y)
        if len(classes) == 2:
            signs = np.where(y == classes[1], 1.0, -1.0)
            return objective(X, signs, coef, intercept, "log_loss", l2=self.l2)
        logits = X @ np.asarray(coef).T + intercept
        index = np.searchsorted(classes, y)
        loss = np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), index])
        return loss + 0.5 * self.l2 * np.sum(np.asarray(coef) ** 2)

    def reference(self):
        """The optimum's objective, from scikit-learn or statsmodels."""
        return _reference(self)


def _statsmodels(name, target=None, columns=None):
    def load():
        data = getattr(sm.datasets, name).load_pandas()
        frame = data.data
        y = data.endog.values if target is None else target(frame)
        X = data.exog.values if columns is None else frame[columns].values
        return np.asarray(X, dtype=float), np.asarray(y)

    return load


def _sklearn(name):
    def load():
        return getattr(skd, f"load_{name}")(return_X_y=True)

    return load


@cache
def _load(loader):
    X, y = loader()
    return np.ascontiguousarray(X, dtype=float), y


fair_affairs = _statsmodels("fair")
randhie = _statsmodels("randhie")
longley = _statsmodels("longley")

PROBLEMS = [
    RealProblem("diabetes", _sklearn("diabetes"), "squared_error"),
    RealProblem("diabetes", _sklearn("diabetes"), "squared_error", "l2", 1e-3),
    RealProblem("longley", longley, "squared_error"),
    RealProblem("fair", fair_affairs, "squared_error"),
    RealProblem("randhie", randhie, "squared_error"),
    RealProblem("grunfeld", _statsmodels("grunfeld", lambda f: f["invest"].values, ["value", "capital"]), "squared_error"),
    RealProblem("star98", _statsmodels("star98", lambda f: f["NABOVE"].values, None), "squared_error", "l2", 1e-3),
    RealProblem("stackloss", _statsmodels("stackloss"), "squared_error"),
    RealProblem("diabetes", _sklearn("diabetes"), "squared_error", "l1", 0.1),
    RealProblem("longley", longley, "squared_error", "l1", 10.0),
    # 20 collinear columns (condition 1.3e5): coordinate descent alone crawls.
    RealProblem("star98", _statsmodels("star98", lambda f: f["NABOVE"].values, None), "squared_error", "l1", 0.1),
    RealProblem("breast_cancer", _sklearn("breast_cancer"), "log_loss", "l2", 1e-3),
    RealProblem("spector", _statsmodels("spector"), "log_loss", "l2", 1e-3),
    RealProblem("fair_any", _statsmodels("fair", lambda f: (f["affairs"].values > 0).astype(int), None), "log_loss", "l2", 1e-4),
    RealProblem("iris", _sklearn("iris"), "log_loss", "l2", 1e-3),
    RealProblem("wine", _sklearn("wine"), "log_loss", "l2", 1e-3),
    RealProblem("digits", _sklearn("digits"), "log_loss", "l2", 1e-3),
    RealProblem("randhie", randhie, "poisson"),
    RealProblem("fair", fair_affairs, "poisson"),
    # Targets far from 0 (Longley's are about 65,000): most residuals start
    # where the Huber loss is linear. (Without a penalty, see
    # test_convergence's test_huber_on_longley_without_a_penalty.)
    RealProblem("longley", longley, "huber", "l2", 1e-2),
    RealProblem("stackloss", _statsmodels("stackloss"), "huber"),
]


@cache
def _reference(problem):
    X, y = problem.data()
    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if problem.loss == "squared_error" and problem.penalty is None:
            params = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit(method="qr").params
            coef, intercept = params[1:], params[0]
        elif problem.loss == "squared_error" and problem.penalty == "l2":
            model = Ridge(alpha=problem.alpha * n, solver="svd").fit(X, y)
            coef, intercept = model.coef_, model.intercept_
        elif problem.loss == "squared_error":
            model = LassoLars(alpha=problem.alpha, max_iter=100_000).fit(X, y)
            coef, intercept = model.coef_, model.intercept_
        elif problem.loss == "log_loss":
            model = LogisticRegression(
                C=1 / (problem.alpha * n), solver="newton-cholesky", tol=1e-12, max_iter=1000
            ).fit(X, y)
            binary = model.coef_.shape[0] == 1
            coef, intercept = (model.coef_[0], model.intercept_[0]) if binary else (model.coef_, model.intercept_)
        elif problem.loss == "huber":
            coef, intercept = _huber_optimum(problem, X, y)
        elif problem.penalty is None:
            family = sm.families.Poisson()
            params = sm.GLM(y, sm.add_constant(X, has_constant="add"), family=family).fit(tol=1e-12).params
            coef, intercept = params[1:], params[0]
        else:
            model = PoissonRegressor(alpha=problem.alpha, solver="newton-cholesky", tol=1e-12, max_iter=1000)
            model.fit(X, y)
            coef, intercept = model.coef_, model.intercept_
    return problem.value(coef, intercept)


def _huber_optimum(problem, X, y):
    """scipy's L-BFGS-B on the Huber objective in standardized coordinates,
    restarted until it stops moving, from the target median (no certified
    values exist for this objective)."""
    from scipy.optimize import minimize

    mean, scale = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / scale

    def value_and_gradient(theta):
        e = Z @ theta[:-1] + theta[-1] - y
        r = np.clip(e, -HUBER_EPSILON, HUBER_EPSILON)
        value = objective(Z, y, theta[:-1], theta[-1], "huber") + 0.5 * problem.l2 * np.sum((theta[:-1] / scale) ** 2)
        return value, np.r_[Z.T @ r / len(y) + problem.l2 * theta[:-1] / scale**2, r.mean()]

    theta = np.r_[np.zeros(X.shape[1]), np.median(y)]
    for _ in range(5):
        theta = minimize(value_and_gradient, theta, jac=True, method="L-BFGS-B",
                         options=dict(maxiter=100_000, maxcor=50, ftol=1e-16, gtol=1e-13)).x
    coef = theta[:-1] / scale
    return coef, theta[-1] - mean @ coef
