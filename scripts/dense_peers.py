"""Time to a stated objective gap on compare.py's dense data: five problems, fastgd against the peers.

    python scripts/dense_peers.py                  # 1,000,000 x 100 float64, as compare.py
    python scripts/dense_peers.py --rows 100000    # for development

Each problem writes its objective out and scores every library's coefficients with it, intercept
unpenalized; a tight reference fit comes first, so that the gap every sweep stops at is measured
from a trustworthy best. Each library's tolerance is swept from the loosest on (compare.GapSweep);
a library stops sweeping once one of its fits has taken more than CAP seconds.

1. L2 logistic, alpha=1e-4, gap 1e-6, no intercept for anyone (liblinear and Snap ML penalize theirs)
2. ridge, alpha=1e-3, gap 1e-8
3. lasso, alpha a fixed share of the smallest alpha that zeroes every coefficient, gap 1e-6
4. Poisson with L2, alpha=1e-4, gap 1e-6
5. multinomial logistic, K=10, alpha=1e-4, on the first 250,000 rows, gap 1e-6
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # compare.py, when run on its own

#: Seconds a fit may take before the library's tighter tolerances are skipped.
CAP = 60.0
LOOSE_TO_TIGHT = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
GRADIENT_TOLS = (1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10)  # glum's, the Newton solvers', the lasso's: a loose start
MULTINOMIAL_ROWS = 250_000
LASSO_SHARE = 0.6  # of alpha_max; with these data's uniform(-1, 1) truth, about 40 of 100 coefficients survive


def dense_peers(report, X, y, args):
    """Time to gap against the peers on the dense data, one problem after another, then a summary."""
    import compare

    print(f"time to an objective gap on the dense data, {X.shape[0]:,} x {X.shape[1]}: each library's tolerance "
          f"swept from the loosest on; a library's tighter tolerances are skipped once a fit took > {CAP:g} s")
    X = np.asarray(X, np.float64)
    lines = []
    for problem in (_logistic, _ridge, _lasso, _poisson, _multinomial):
        start = time.perf_counter()
        sweep, peers, ours = problem(compare, X, y)
        sweep.report(report, peers, ours, args.pairs)
        lines.append(_summary(sweep, peers, ours))
        print(f"  ({problem.__name__[1:]} took {time.perf_counter() - start:.0f} s)", flush=True)
    print("fastgd defaults (optimizer='auto'): fastest fit within the gap against the fastest peer's, from the sweeps")
    for line in lines:
        print(f"  {line}")
    report.details["dense_peers summary"] = lines


# -- shared helpers ---------------------------------------------------------------------------

def _threads():
    import numba

    return numba.get_num_threads()


def _capped(sweep, library, configs):
    """``configs`` while no fit of ``library`` has taken more than CAP seconds (tighter ones take longer)."""
    for label, fit in configs:
        slow = [r for r in sweep.runs if r["library"] == library and r["seconds"] > CAP]
        if slow:
            print(f"    {library:<40} {label:<32} skipped: {slow[-1]['config']} took {slow[-1]['seconds']:.0f} s")
            continue
        yield label, fit


class _Peers:
    """The peers of one problem: sweeps those that import, lists the rest as not installed."""

    def __init__(self, compare, sweep, small):
        self.compare, self.sweep, self.small = compare, sweep, small
        self.listed = []

    def add(self, library, module, make, tols, result, name="tol"):
        """Sweep ``make(module, tol, X, y)`` over ``tols``, warmed on the small slice."""
        mod = self.compare._peer(module)
        self.listed.append((library, None if mod is not None else f"{module} not installed"))
        if mod is None:
            return
        X, y = self.sweep.data
        configs = [(f"{name}={tol:g}", lambda tol=tol: make(mod, tol, X, y)) for tol in tols]
        self.sweep.sweep(library, _capped(self.sweep, library, configs), result,
                         warm=lambda: make(mod, tols[0], *self.small))


def _fastgd(sweep, make, tols, small, optimizers=None, data_decides=False):
    """Sweep fastgd's ``make(optimizer, tol)`` over ``tols``: "auto" and "lbfgs" (compare._fastgd_configs)
    unless ``optimizers`` are given; every optimizer compiled on the small slice first."""
    import compare

    X, y = sweep.data
    if optimizers is None:
        configs = compare._fastgd_configs(make, tols, data_decides)
    else:
        configs = [(f"optimizer={opt} tol={tol:g}", lambda opt=opt, tol=tol: make(opt, tol))
                   for opt in optimizers for tol in tols]
    used = sorted({label.split()[0].split("=")[1] for label, _ in configs})
    sweep.default = "optimizer=auto" if "auto" in used else f"optimizer={used[0]}"  # auto resolved to it
    sweep.sweep("fastgd", _capped(sweep, "fastgd", [(label, lambda m=m: m().fit(X, y)) for label, m in configs]),
                _linear, warm=lambda: [make(opt, 1e-3).fit(*small) for opt in used])
    return "fastgd"


def _times(tols, n):
    return tuple(tol * n for tol in tols)


def _linear(model):
    """(coef, intercept) of a fitted model: a binary model's single row as a vector, no intercept as 0."""
    coef = np.asarray(model.coef_, np.float64)
    if coef.ndim == 2 and coef.shape[0] == 1:
        coef = coef[0]
    intercept = np.ravel(np.asarray(getattr(model, "intercept_", 0.0), np.float64))
    return coef, (intercept if coef.ndim == 2 else float(intercept[0]) if intercept.size else 0.0)


def _sweep(compare, title, objective, gap, X, y):
    sweep = compare.GapSweep(title, objective, gap)
    sweep.data = (X, y)
    return sweep


def _reference(sweep, method, config, fit, result=_linear):
    """The tight fit the gap is measured from; a library of its own, so it is no peer's row."""
    print("    tight reference run:")
    sweep.run(f"reference: {method}", f"{config} (reference)", fit, result)


def _summary(sweep, peers, ours):
    auto = [r for r in sweep.runs if r["library"] == ours and r["config"].startswith(sweep.default)
            and sweep.relative(r["objective"]) <= sweep.gap]
    fastest = [run for run in (sweep.fastest(library) for library, missing in peers if not missing) if run]
    peer = min(fastest, key=lambda r: r["seconds"]) if fastest else None
    mine = min(auto, key=lambda r: r["seconds"]) if auto else None
    if mine is None:
        return f"{sweep.title}: fastgd {sweep.default} (the default) reached no fit within the gap"
    if sweep.default != "optimizer=auto":
        mine = dict(mine, config=f"{mine['config']}, which auto resolves to")
    if peer is None:
        return f"{sweep.title}: fastgd {mine['seconds']:.3f} s [{mine['config']}]; no peer reached the gap"
    return (f"{sweep.title}: fastgd {mine['seconds']:.3f} s [{mine['config']}] against {peer['library']} "
            f"{peer['seconds']:.3f} s [{peer['config']}]: {mine['seconds'] / peer['seconds']:.2f}x")


# -- the problems: each returns its sweep, its peers and fastgd's library name ----------------

def _logistic(compare, X, y):
    import fastgd

    n, d = X.shape
    alpha = 1e-4
    rng = np.random.default_rng(1)  # compare.solution's labels
    labels = (X @ rng.uniform(-1, 1, d) + rng.standard_normal(n) > 0).astype(np.int64)
    signs = 2.0 * labels - 1.0
    C = 1.0 / (alpha * n)
    title = "dense L2 logistic alpha=1e-4 to 1e-6 gap"
    print(f"{title}: mean(log(1 + exp(-s (Xw)))) + alpha/2 ||w||^2, labels sign(X u + noise) ({labels.mean():.1%} "
          f"positive); no intercept for anyone, as liblinear and Snap ML would penalize theirs (scikit-learn, "
          f"Intel's extension C = 1/(alpha n) = {C:.3g}; liblinear -c the same; Snap ML regularizer = alpha n = "
          f"{alpha * n:.4g}; glum and fastgd alpha)")

    def objective(coef, intercept):
        return np.mean(np.logaddexp(0.0, -signs * (X @ coef + intercept))) + 0.5 * alpha * coef @ coef

    sweep = _sweep(compare, title, objective, 1e-6, X, labels)
    small = (X[:2000], labels[:2000])
    from sklearn.linear_model import LogisticRegression

    # Newton's method converges quadratically: at tol=1e-12 it is at the optimum to rounding.
    _reference(sweep, "scikit-learn newton-cholesky", "tol=1e-12", lambda: LogisticRegression(
        C=C, fit_intercept=False, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, labels))
    peers = _Peers(compare, sweep, small)

    def sklearn(solver):
        def make(mod, tol, X, y):
            return mod.LogisticRegression(C=1.0 / (alpha * len(y)), fit_intercept=False, solver=solver, tol=tol,
                                          max_iter=100_000).fit(X, y)
        return make

    peers.add("scikit-learn lbfgs", "sklearn.linear_model", sklearn("lbfgs"), LOOSE_TO_TIGHT, _linear)
    peers.add("scikit-learn newton-cholesky", "sklearn.linear_model", sklearn("newton-cholesky"),
              (1e-3, 1e-4, 1e-6), _linear)
    # oneDAL reads tol on the summed loss: its tol = 1e-3 n stops where scikit-learn's 1e-3 does
    peers.add("Intel's extension lbfgs", "sklearnex.linear_model", sklearn("lbfgs"), _times(LOOSE_TO_TIGHT, n),
              _linear)
    peers.add("glum binomial", "glum", lambda mod, tol, X, y: mod.GeneralizedLinearRegressor(
        family="binomial", alpha=alpha, l1_ratio=0.0, fit_intercept=False, gradient_tol=tol).fit(X, y),
        GRADIENT_TOLS, _linear, "gradient_tol")

    def liblinear(mod, eps, X, y):
        # problem() reads a CSR matrix in C but a dense array row by row in Python (5x slower)
        import scipy.sparse as sp

        options = f"-s 0 -c {1.0 / (alpha * len(y)):.17g} -e {eps:g} -B -1 -m {_threads()} -q"
        return mod.train(mod.problem(2.0 * y - 1.0, sp.csr_matrix(X)), mod.parameter(options))

    def liblinear_coef(model):
        w = np.zeros(d)
        coef = np.array(model.get_decfun()[0])
        w[: coef.shape[0]] = coef
        return (w if model.get_labels()[0] == 1 else -w), 0.0

    peers.add("liblinear -s 0 (CSR + problem() included)", "liblinear.liblinearutil", liblinear,
              (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6), liblinear_coef, "eps")

    def snapml(dual):
        # Snap ML minimizes sum(loss) + regularizer/2 ||w||^2: regularizer = alpha n
        return lambda mod, tol, X, y: mod.LogisticRegression(
            regularizer=alpha * len(y), fit_intercept=False, dual=dual, n_jobs=_threads(), tol=tol,
            max_iter=100_000).fit(X, y)

    # Its default dual solver ends near, not at, this optimum (at 100,000 rows: 5.8e-6 at every tol from
    # 1e-4 to 1e-8, the gradient that of alpha about 0.95x ours): two fits show it; the primal solver
    # (dual=False) reaches it, and is the Snap ML row that can.
    peers.add("Snap ML primal (dual=False)", "snapml", snapml(False), LOOSE_TO_TIGHT[1:7], _linear)
    peers.add("Snap ML dual (its default)", "snapml", snapml(True), (1e-3, 1e-5), _linear)

    def make(optimizer, tol):
        return fastgd.GDClassifier(penalty="l2", alpha=alpha, fit_intercept=False, optimizer=optimizer, tol=tol,
                                   max_iter=100_000)

    return sweep, peers.listed, _fastgd(sweep, make, LOOSE_TO_TIGHT, small)


def _centred(X, y):
    """Column means, the target's mean, X_c.T X_c / n and X_c.T y_c / n (X_c, y_c centred)."""
    n = X.shape[0]
    mean, target_mean = X.mean(axis=0), y.mean()
    gram = (X.T @ X) / n - np.outer(mean, mean)
    return mean, target_mean, gram, X.T @ y / n - mean * target_mean


def _ls_objective(compare, X, y, l1=0.0, l2=0.0):
    def objective(coef, intercept):
        return compare._ls_objective(X, y, coef, intercept, l2) + l1 * np.abs(coef).sum()
    return objective


def _ridge(compare, X, y):
    import fastgd
    from scipy.linalg import cho_factor, cho_solve

    n, d = X.shape
    alpha = 1e-3
    title = "dense ridge alpha=1e-3 to 1e-8 gap"
    print(f"{title}: mean((y - Xw - b)^2)/2 + alpha/2 ||w||^2 (scikit-learn, Intel's extension alpha n = "
          f"{alpha * n:.4g}; glum l1_ratio=0, skglm ElasticNet l1_ratio=0 and fastgd alpha)")
    sweep = _sweep(compare, title, _ls_objective(compare, X, y, l2=alpha), 1e-8, X, y)
    small = (X[:2000], y[:2000])

    def normal_equations():
        mean, target_mean, gram, cross = _centred(X, y)
        coef = cho_solve(cho_factor(gram + alpha * np.eye(d)), cross)
        return coef, target_mean - mean @ coef

    _reference(sweep, "normal equations", "Cholesky of X_c.T X_c", normal_equations, lambda solution: solution)
    peers = _Peers(compare, sweep, small)

    def ridge(solver):
        return lambda mod, tol, X, y: mod.Ridge(alpha=alpha * len(y), solver=solver, tol=tol).fit(X, y)

    # tol is ignored by the direct solvers: one config each; lsqr is scikit-learn's fastest iterative one here
    peers.add("scikit-learn Ridge (auto: cholesky)", "sklearn.linear_model", ridge("auto"), (1e-4,), _linear)
    peers.add("scikit-learn Ridge lsqr", "sklearn.linear_model", ridge("lsqr"), (1e-4, 1e-6, 1e-8, 1e-10), _linear)
    peers.add("Intel's extension Ridge", "sklearnex.linear_model", ridge("auto"), (1e-4,), _linear)
    peers.add("glum normal", "glum", lambda mod, tol, X, y: mod.GeneralizedLinearRegressor(
        family="normal", alpha=alpha, l1_ratio=0.0, gradient_tol=tol).fit(X, y),
        GRADIENT_TOLS, _linear, "gradient_tol")
    # skglm has no ridge estimator; its ElasticNet with l1_ratio=0 is this objective (its L2 penalty
    # alone has no prox for its coordinate descent solver)
    # (its fits are slow: from tol=1e-4 on, as 1e-2 stopped at a gap of 6e-5 at 100,000 rows)
    peers.add("skglm ElasticNet l1_ratio=0", "skglm", lambda mod, tol, X, y: mod.ElasticNet(
        alpha=alpha, l1_ratio=0.0, tol=tol, max_iter=1000).fit(X, y), (1e-4, 1e-6, 1e-8), _linear)

    def make(optimizer, tol):
        return fastgd.GDRegressor(penalty="l2", alpha=alpha, optimizer=optimizer, tol=tol, max_iter=100_000)

    # "auto" takes the exact solve here (100 dense features): swept beside L-BFGS
    return sweep, peers.listed, _fastgd(sweep, make, GRADIENT_TOLS, small, data_decides=True)


def _lasso_cd(gram, cross, alpha, sweeps=100_000):
    """Lasso on the centred Gram matrix by cyclic coordinate descent, to no change at all (rounding)."""
    d = gram.shape[0]
    w, residual = np.zeros(d), cross.copy()  # residual = cross - gram @ w
    for _ in range(sweeps):
        moved = 0.0
        for j in range(d):
            z = residual[j] + gram[j, j] * w[j]
            new = np.sign(z) * max(abs(z) - alpha, 0.0) / gram[j, j]
            if new != w[j]:
                residual -= gram[:, j] * (new - w[j])
                moved = max(moved, abs(new - w[j]))
                w[j] = new
        if moved <= 1e-15 * max(1.0, np.abs(w).max()):
            break
    return w


def _lasso(compare, X, y):
    import fastgd

    d = X.shape[1]
    mean, target_mean, gram, cross = _centred(X, y)
    alpha = LASSO_SHARE * np.abs(cross).max()  # alpha_max = max |X_c.T y_c| / n zeroes every coefficient
    title = "dense lasso to 1e-6 gap"
    sweep = _sweep(compare, title, _ls_objective(compare, X, y, l1=alpha), 1e-6, X, y)

    def descent():
        coef = _lasso_cd(gram, cross, alpha)
        return coef, target_mean - mean @ coef

    nonzero = np.count_nonzero(_lasso_cd(gram, cross, alpha))
    print(f"{title}: mean((y - Xw - b)^2)/2 + alpha ||w||_1, alpha = {LASSO_SHARE:g} alpha_max = {alpha:.6g}, "
          f"{nonzero} of {d} coefficients nonzero at the reference (alpha for everyone: scikit-learn's, skglm's and "
          f"Intel's Lasso have this objective; glum l1_ratio=1)")
    _reference(sweep, "coordinate descent on the Gram matrix", "to rounding", descent, lambda solution: solution)
    small = (X[:2000], y[:2000])
    peers = _Peers(compare, sweep, small)
    tols = GRADIENT_TOLS

    def lasso(**options):
        return lambda mod, tol, X, y: mod.Lasso(alpha=alpha, tol=tol, **options).fit(X, y)

    peers.add("scikit-learn Lasso", "sklearn.linear_model", lasso(max_iter=100_000), tols, _linear)
    peers.add("scikit-learn Lasso precompute=True", "sklearn.linear_model", lasso(max_iter=100_000, precompute=True),
              tols, _linear)
    # sklearnex.linear_model has no Lasso; the same distribution's daal4py has one on oneDAL
    peers.add("Intel's extension (daal4py) Lasso", "daal4py.sklearn.linear_model", lasso(max_iter=100_000),
              (1.0,) + tols, _linear)
    peers.add("skglm Lasso", "skglm", lasso(), tols, _linear)
    peers.add("glum l1_ratio=1", "glum", lambda mod, tol, X, y: mod.GeneralizedLinearRegressor(
        family="normal", alpha=alpha, l1_ratio=1.0, gradient_tol=tol).fit(X, y), tols, _linear, "gradient_tol")

    def make(optimizer, tol):
        return fastgd.GDRegressor(penalty="l1", alpha=alpha, optimizer=optimizer, tol=tol, max_iter=100_000)

    # L-BFGS needs a smooth penalty: "auto" (the exact solve's coordinate descent here) beside FISTA
    return sweep, peers.listed, _fastgd(sweep, make, tols, small, ("auto", "accelerated"))


def _poisson(compare, X, y):
    import fastgd

    d = X.shape[1]
    alpha = 1e-4
    rng = np.random.default_rng(4)
    u = rng.uniform(-1, 1, d)
    u *= 0.5 / np.linalg.norm(u)  # eta = X u + 0.5 ~ N(0.5, 0.25): rates up to about exp(3)
    eta = X @ u + 0.5
    counts = rng.poisson(np.exp(eta)).astype(np.float64)
    title = "dense Poisson alpha=1e-4 to 1e-6 gap"
    print(f"{title}: mean(exp(Xw + b) - y (Xw + b)) + alpha/2 ||w||^2, counts ~ Poisson(exp(X u + 0.5)), largest "
          f"rate {np.exp(eta.max()):.1f}, mean count {counts.mean():.2f} (alpha for everyone: scikit-learn's "
          f"half mean deviance and glum's deviance/(2n) differ from it by a constant only)")
    del eta

    def objective(coef, intercept):
        eta = X @ coef + intercept
        return np.mean(np.exp(eta) - counts * eta) + 0.5 * alpha * coef @ coef

    sweep = _sweep(compare, title, objective, 1e-6, X, counts)
    small = (X[:2000], counts[:2000])
    from sklearn.linear_model import PoissonRegressor

    _reference(sweep, "scikit-learn newton-cholesky", "tol=1e-12", lambda: PoissonRegressor(
        alpha=alpha, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, counts))
    peers = _Peers(compare, sweep, small)

    def sklearn(solver):
        return lambda mod, tol, X, y: mod.PoissonRegressor(
            alpha=alpha, solver=solver, tol=tol, max_iter=100_000).fit(X, y)

    peers.add("scikit-learn PoissonRegressor lbfgs", "sklearn.linear_model", sklearn("lbfgs"), LOOSE_TO_TIGHT,
              _linear)
    peers.add("scikit-learn PoissonRegressor newton-cholesky", "sklearn.linear_model", sklearn("newton-cholesky"),
              GRADIENT_TOLS, _linear)
    peers.add("glum poisson", "glum", lambda mod, tol, X, y: mod.GeneralizedLinearRegressor(
        family="poisson", alpha=alpha, l1_ratio=0.0, gradient_tol=tol).fit(X, y),
        GRADIENT_TOLS, _linear, "gradient_tol")

    def make(optimizer, tol):
        return fastgd.GDRegressor(loss="poisson", penalty="l2", alpha=alpha, optimizer=optimizer, tol=tol,
                                  max_iter=100_000)

    return sweep, peers.listed, _fastgd(sweep, make, LOOSE_TO_TIGHT, small)


def _multinomial(compare, X, y, classes=10):
    import fastgd
    from scipy.special import logsumexp

    m = min(MULTINOMIAL_ROWS, X.shape[0])
    Xs = X[:m]
    d = X.shape[1]
    alpha = 1e-4
    rng = np.random.default_rng(5)
    labels = np.argmax(Xs @ (0.3 * rng.standard_normal((d, classes))) + rng.gumbel(size=(m, classes)), axis=1)
    title = f"dense multinomial K={classes} alpha=1e-4 to 1e-6 gap"
    print(f"{title}, first {m:,} rows: mean cross-entropy + alpha/2 ||W||_F^2, labels argmax(X U + Gumbel noise), "
          f"U ~ N(0, 0.3^2), class shares {np.bincount(labels).min() / m:.1%} to {np.bincount(labels).max() / m:.1%} "
          f"(scikit-learn and Intel's extension C = 1/(alpha n) = {1 / (alpha * m):.3g}; fastgd alpha)")

    def objective(coef, intercept):
        logits = Xs @ coef.T + intercept
        return (np.mean(logsumexp(logits, axis=1) - logits[np.arange(m), labels])
                + 0.5 * alpha * np.sum(coef * coef))

    sweep = _sweep(compare, title, objective, 1e-6, Xs, labels)
    small = (Xs[:5000], labels[:5000])

    def make(optimizer, tol):
        return fastgd.GDClassifier(penalty="l2", alpha=alpha, optimizer=optimizer, tol=tol, max_iter=100_000)

    # Newton on 1,010 coefficients is too slow for a reference; L-BFGS to a gradient of 1e-12 of the start's
    _reference(sweep, "fastgd lbfgs", "tol=1e-12", lambda: make("lbfgs", 1e-12).fit(Xs, labels))
    peers = _Peers(compare, sweep, small)

    def sklearn(mod, tol, X, y):
        return mod.LogisticRegression(C=1.0 / (alpha * len(y)), solver="lbfgs", tol=tol, max_iter=100_000).fit(X, y)

    peers.add("scikit-learn lbfgs", "sklearn.linear_model", sklearn, LOOSE_TO_TIGHT, _linear)
    peers.add("Intel's extension lbfgs", "sklearnex.linear_model", sklearn, _times(LOOSE_TO_TIGHT, m), _linear)
    return sweep, peers.listed, _fastgd(sweep, make, LOOSE_TO_TIGHT, small)


def main(argv=None):
    import compare

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=2, help="paired reruns of fastgd's and the fastest peer's fits")
    args = parser.parse_args(argv)
    print(f"{args.rows:,} x {args.features} float64; {_threads()} threads")
    X, y = compare.make_data(args.rows, args.features, np.dtype("float64"))
    report = compare.Report(args.repeat)
    start = time.perf_counter()
    dense_peers(report, X, y, args)
    print(f"\n{'figure':<70} {'seconds':>9}  ratio")
    for row in report.rows:
        seconds = "n/a" if row["seconds"] is None else f"{row['seconds']:9.4f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x {row['baseline']}"
        print(f"{row['name']:<70} {seconds:>9}  {ratio} {row['note']}")
    print(f"(took {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
