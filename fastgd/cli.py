"""The ``fastgd`` command line."""

import argparse
import sys
import time

import numpy as np

DEMO_HELP = """\
Generate a seeded regression problem (by default 1,000,000 x 50 float64),
fit it with the default settings and report the epochs, the final objective,
the error of the coefficients against the known truth and the wall time.

examples:
  fastgd demo
  fastgd demo --rows 200000 --features 20 --batch-size 256
  fastgd demo --dtype float32
"""


def _demo(args):
    from . import GDRegressor

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    X = rng.standard_normal((args.rows, args.features), dtype=np.float32 if args.dtype == "float32" else np.float64)
    coef = rng.uniform(-2.0, 2.0, args.features)
    intercept = 0.5
    y = X @ coef + intercept + args.noise * rng.standard_normal(args.rows)
    generated = time.perf_counter() - start
    print(
        f"data: {args.rows:,} x {args.features} {args.dtype} "
        f"({X.nbytes / 1e6:,.0f} MB, generated in {generated:.2f} s)"
    )
    model = GDRegressor(batch_size=args.batch_size, random_state=args.seed, verbose=args.verbose)
    start = time.perf_counter()
    model.fit(X, y)
    wall = time.perf_counter() - start
    mode = "full batch" if args.batch_size is None else f"mini-batch B={args.batch_size}"
    error = np.abs(np.append(model.coef_ - coef, model.intercept_ - intercept)).max()
    print(f"fit: {mode}, {model.n_iter_} epochs, converged={model.converged_}")
    print(f"final objective: {model.loss_history_[-1]:.10g} (noise floor {args.noise**2 / 2:.6g})")
    print(f"max coefficient error vs truth: {error:.3e}")
    print(f"wall time: {wall:.3f} s ({wall / model.n_iter_ * 1e3:.2f} ms per epoch incl. setup)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastgd",
        description="Linear models trained by gradient descent at memory-bandwidth speed.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train on a built-in generated problem",
        description=DEMO_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    demo.add_argument("--features", type=int, default=50, help="features to generate (default 50)")
    demo.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    demo.add_argument("--noise", type=float, default=1.0, help="noise standard deviation (default 1)")
    demo.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: full batch)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--verbose", "-v", action="count", default=0, help="log every epoch")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
