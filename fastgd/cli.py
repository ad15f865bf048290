"""The ``fastgd`` command line: fit, predict, info and demo.

Every user error (a missing file, a bad column, a bad option value, a corrupt
model) ends with exit status 2 and one line on stderr; anything else is a bug
and keeps its traceback.
"""

import argparse
import csv
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .cli_options import add_estimator_options, estimator_parameters
from .cli_progress import Progress, StatusLine, one_line_warnings
from .plot import outcome

EPILOG_FIT = """\
examples:
  fastgd fit train.parquet --target price --out model.json
  fastgd fit data/ --target label --loss log_loss --penalty l2 --alpha 1e-4 \\
      --standardize --out model.json --plot curve.png --history history.csv
  fastgd fit events.arrow --target clicked --loss log_loss --batch-size 256 \\
      --early-stopping --random-state 0 --out model.json
  fastgd fit X.npy --target y.npy --out model.json
  fastgd fit train.svm.gz --loss log_loss --batch-size 64 --out model.json

Every GDRegressor / GDClassifier parameter is an option of the same name
(underscores as dashes), listed below with its values. A classification loss
(log_loss, hinge) fits a GDClassifier. String and dictionary columns are
categorical features (a coefficient per category, hashed above
--max-categories); other non-numeric columns are left out of the features,
with a warning naming them. On a terminal a status line shows
the setup, then each epoch's objective, its relative change and rows/s.
Ctrl-C stops after the current epoch and writes the model so far, marked as
interrupted (exit status 130).
"""

EPILOG_PREDICT = """\
examples:
  fastgd predict model.json new.parquet --out predictions.parquet
  fastgd predict model.json new.csv --out predictions.csv --proba
  fastgd predict model.json new.csv --out - | head

Columns are matched to the model's features by name. Predictions are written
block by block, so memory stays bounded whatever the size of DATA.
"""

EPILOG_INFO = """\
examples:
  fastgd info model.json
  fastgd info model.json --top 20
"""

EPILOG_DEMO = """\
Generate a seeded regression problem (1,000,000 x 50 by default), write it
to a temporary Arrow IPC (or Parquet) file, fit it from the file with the
default settings and a progress bar, then write the model and the
loss-curve plot and report the epochs, the final objective, the error of the
coefficients against the known truth and the wall time.

examples:
  fastgd demo
  fastgd demo --rows 200000 --features 20 --format parquet --out-dir /tmp/demo
"""

#: Exit status after Ctrl-C, as a shell reports it.
INTERRUPTED = 130
#: Exit status when stdout is closed early (``fastgd info m.json | head``), as if killed by SIGPIPE.
BROKEN_PIPE = 141


class UserError(Exception):
    """An error in what the user asked for: one line, exit status 2."""


class Interrupted(Exception):
    """Ctrl-C ended the command before it had anything to write: exit status 130."""


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import DivergenceError, ModelFileError

    status = StatusLine()
    try:
        with one_line_warnings(status):
            return args.run(args, status)
    except BrokenPipeError:
        # The reader has gone: say nothing more, and keep Python from failing
        # to flush the closed pipe at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except KeyboardInterrupt:  # before the fit's own handler, or a second Ctrl-C
        status.finish()
        print("fastgd: interrupted; nothing written", file=sys.stderr)
        return INTERRUPTED
    except Interrupted as error:
        status.finish()
        print(f"fastgd: {error}", file=sys.stderr)
        return INTERRUPTED
    except (UserError, ValueError, TypeError, OSError, ImportError, ModelFileError, DivergenceError) as error:
        status.finish()
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"fastgd: error: {message}", file=sys.stderr)
        return 2


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastgd",
        description="Linear models trained by gradient descent at memory-bandwidth speed.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastgd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    fit = commands.add_parser("fit", help="fit a model on a data file", epilog=EPILOG_FIT, formatter_class=raw,
                              description="Fit a linear model by gradient descent on DATA and save it as JSON.")
    fit.add_argument(
        "data", metavar="DATA",
        help=".parquet file or directory, .arrow/.feather, .csv, X.npy, .svm/.libsvm (.gz, .bz2) or a CSR store",
    )
    fit.add_argument(
        "--target",
        help="target column (for X.npy: the y.npy file; not needed for svmlight files and CSR stores, "
        "whose rows carry their label)",
    )
    fit.add_argument("--features", nargs="+", metavar="COLUMN", help="feature columns, in order (default: every numeric column)")
    fit.add_argument("--weight", metavar="COLUMN", help="column of sample weights")
    fit.add_argument("--out", required=True, metavar="MODEL.json", help="where to write the model")
    fit.add_argument("--plot", metavar="PNG", help="write the learning curve here (needs fastgd[plot])")
    fit.add_argument("--history", metavar="CSV", help="write the per-epoch history here")
    fit.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    add_estimator_options(fit)
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", help="predict with a saved model", epilog=EPILOG_PREDICT, formatter_class=raw,
                                  description="Predict DATA with MODEL, block by block.")
    predict.add_argument("model", metavar="MODEL.json")
    predict.add_argument("data", metavar="DATA")
    predict.add_argument("--out", required=True, metavar="FILE", help="predictions: .parquet, .csv or .npy; - writes CSV to stdout")
    predict.add_argument("--proba", action="store_true", help="also write class probabilities (classifiers with log_loss)")
    predict.set_defaults(run=_predict)

    info = commands.add_parser("info", help="describe a saved model", epilog=EPILOG_INFO, formatter_class=raw,
                               description="Print a saved model: loss, penalty, features, coefficients, training.")
    info.add_argument("model", metavar="MODEL.json")
    info.add_argument("--top", type=_count, default=10, metavar="K", help="coefficients shown, largest first (default 10)")
    info.set_defaults(run=_info)

    demo = commands.add_parser("demo", help="train on a built-in generated problem", epilog=EPILOG_DEMO, formatter_class=raw,
                               description="The built-in demonstration.")
    demo.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    demo.add_argument("--features", type=int, default=50, help="features to generate (default 50)")
    demo.add_argument("--noise", type=float, default=1.0, help="noise standard deviation (default 1)")
    demo.add_argument("--format", choices=["arrow", "parquet"], default="arrow", help="file format of the data (default arrow)")
    demo.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: full batch)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--out-dir", default="fastgd-demo", help="where the model and plot go (default ./fastgd-demo)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo)
    return parser


def _count_of(number, noun):
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _count(text):
    """A whole number >= 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _estimator(args):
    from .linear_model import GDClassifier, GDRegressor

    params = {k: v for k, v in vars(args).items() if k in estimator_parameters()}
    classify = params.get("loss", "squared_error") in GDClassifier._LOSSES
    if "class_weight" in params and not classify:
        raise UserError("--class-weight needs a classification loss (log_loss or hinge)")
    cls = GDClassifier if classify else GDRegressor
    return cls(**params)


def _train(estimator, dataset, status, quiet):
    """Fit, showing progress; Ctrl-C stops after the current epoch. Returns
    whether the fit was interrupted and the seconds it took."""
    progress = Progress(status if not quiet else StatusLine(enabled=False), dataset.n_rows,
                        f"{type(estimator).__name__} on {dataset.n_rows:,} rows x {dataset.n_features} features")
    estimator.set_params(callbacks=[progress])
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:  # a shell that started us ignoring Ctrl-C (cmd &) keeps it ignored
        signal.signal(signal.SIGINT, progress.interrupt)
    interrupted = False
    try:
        estimator.fit(dataset)
    except KeyboardInterrupt:
        interrupted = True
        if not hasattr(estimator, "coef_"):
            raise Interrupted("interrupted before the first epoch ended; no model written") from None
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.close()
        estimator.set_params(callbacks=None)
    if progress.stop:
        interrupted = True
        estimator.converged_ = False
        estimator.interrupted_ = True
    return interrupted, progress.seconds


def _labelled_rows_target(data):
    """The target of data whose rows carry their label (svmlight, CSR stores), or a usage error."""
    from .data import csr_store, svmlight

    if svmlight.is_svmlight_path(data) or csr_store.is_store(data):
        return "y"
    raise UserError("--target is required: name the target column (for X.npy, the y.npy file)")


def _fit(args, status):
    from . import open_dataset
    from .estimators.settings import settings as checked_settings

    estimator = _estimator(args)
    checked_settings(estimator)
    if args.target is None:
        args.target = _labelled_rows_target(args.data)
    target_file = args.target if str(args.target).lower().endswith(".npy") else None
    outputs = {"--out": args.out, "--plot": args.plot, "--history": args.history}
    _never_overwrite([args.data, target_file], outputs.values())
    _check_outputs(outputs)
    if args.plot:
        from .plot import require_matplotlib

        require_matplotlib()
    if not args.quiet:
        status.show(f"opening {args.data}")
    dataset = open_dataset(args.data, target=args.target, features=args.features, weight=args.weight,
                           max_categories=estimator.max_categories)
    interrupted, seconds = _train(estimator, dataset, status, args.quiet)
    estimator.save(args.out)
    if args.history:
        _write_history(estimator, args.history)
    if args.plot:
        from .plot import plot_history

        plot_history(estimator, args.plot)
    if not args.quiet:
        columns = len(dataset.feature_names or ()) or dataset.n_features
        coefficients = f" ({_count_of(dataset.n_features, 'coefficient')})" if columns != dataset.n_features else ""
        print(f"wrote {args.out}: {type(estimator).__name__}, {_count_of(columns, 'feature')}{coefficients}, "
              f"{_count_of(dataset.n_rows, 'row')}, {_count_of(estimator.n_iter_, 'epoch')} in {seconds:.2f} s, "
              f"{outcome(estimator)}, objective {estimator.loss_history_[-1]:.10g}")
    return INTERRUPTED if interrupted else 0


#: File types of the outputs, by option.
SUFFIXES = {"--out": (".json",), "--history": (".csv",), "--plot": (".png", ".pdf", ".svg", ".jpg", ".jpeg")}


def _check_outputs(outputs, suffixes=SUFFIXES):
    """Refuse, before any work, an output that cannot be written: ``{option: path or None}``."""
    given = {option: out for option, out in outputs.items() if out is not None and out != "-"}
    seen = {}
    for option, out in given.items():
        where = Path(out).resolve()
        if where in seen:
            raise UserError(f"{seen[where]} and {option} are the same file '{out}'; give each its own")
        seen[where] = option
    for option, out in given.items():
        path = Path(out)
        allowed = suffixes.get(option)
        if allowed and path.suffix.lower() not in allowed:
            raise UserError(f"{option} '{out}' must end in {' or '.join(allowed)}")
        directory = path.parent
        if path.is_dir():
            raise UserError(f"{option} '{out}' is a directory; give a file name")
        if not directory.is_dir():
            raise UserError(f"{option} '{out}': no directory '{directory}'; create it first")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise UserError(f"{option} '{out}': directory '{directory}' is not writable")


def _never_overwrite(inputs, outputs):
    """Refuse an output path that is an input file or lies inside an input directory."""
    for out in outputs:
        if out is None or out == "-":
            continue
        target = Path(out).resolve()
        for given in filter(None, inputs):
            source = Path(given).resolve()
            if source.exists() and (target == source or source.is_dir() and source in target.parents):
                raise UserError(f"output '{out}' would overwrite the input '{given}'; write it elsewhere")


def _write_history(estimator, path):
    validation = getattr(estimator, "validation_loss_history_", None)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "objective"] + (["validation_loss"] if validation is not None else []))
        for epoch, value in enumerate(estimator.loss_history_, 1):
            writer.writerow([epoch, repr(float(value))] + ([repr(float(validation[epoch - 1]))] if validation is not None else []))


def _predict(args, status):
    from . import load
    from .data.open import prediction_data

    out = Path(args.out)
    if args.out != "-" and out.suffix.lower() not in (".parquet", ".csv", ".npy"):
        raise UserError(f"--out must end in .parquet, .csv or .npy (or be - for CSV on stdout), got '{out}'")
    _never_overwrite([args.data, args.model], [args.out])
    _check_outputs({"--out": args.out}, suffixes={})  # its formats are checked above
    model = load(args.model)
    if args.proba and not (model._estimator_type == "classifier" and model.loss == "log_loss"):
        raise UserError("--proba needs a classifier fitted with loss='log_loss'")
    names = getattr(model, "feature_names_in_", None)
    # Only the model's features are read and checked.
    dataset = prediction_data(args.data, None if names is None else list(names), model._fitted_coding(model.handle_unknown))
    decisions = model._decision_blocks(dataset)
    if args.out != "-" and out.suffix.lower() == ".npy":
        rows = _write_npy(out, model, decisions, args.proba, dataset.n_rows)
    else:
        blocks = ((start, _prediction_columns(model, decision, args.proba)) for start, decision in decisions)
        rows = _write_table(None if args.out == "-" else out, blocks)
    return 0 if rows == dataset.n_rows else 1


def _prediction_columns(model, decision, proba):
    """Named output columns for one block of decision values."""
    import pyarrow as pa

    from . import losses
    from .estimators import outputs

    columns = {}
    if model._estimator_type == "classifier":
        columns["prediction"] = outputs.labels(decision, model.classes_)
        if proba:
            probabilities = outputs.probabilities(decision)
            # Labels spelled as the table spells them ("true", "0"), not as Python does.
            texts = pa.array(model.classes_.tolist()).cast(pa.string()).to_pylist()
            for k, text in enumerate(texts):
                columns[f"proba_{text}"] = probabilities[:, k]
    else:
        columns["prediction"] = losses.REGISTRY[model.loss].inverse_link(decision)
    return columns


def _write_npy(out, model, decisions, proba, n_rows):
    """One array: predicted labels or values, or with ``proba`` the (n, K) class probabilities."""
    from . import losses
    from .estimators import outputs

    classes = getattr(model, "classes_", None)
    if proba:
        dtype, shape = np.float64, (n_rows, len(classes))
    elif classes is not None:
        # Wide enough for every label, not just those of the first block.
        dtype, shape = (classes.astype(str).dtype if classes.dtype == object else classes.dtype), (n_rows,)
    else:
        dtype, shape = np.float64, (n_rows,)
    array = np.lib.format.open_memmap(out, mode="w+", dtype=dtype, shape=shape)
    written = 0
    try:
        for start, decision in decisions:
            if proba:
                values = outputs.probabilities(decision)
            elif classes is not None:
                values = outputs.labels(decision, classes)
            else:
                values = losses.REGISTRY[model.loss].inverse_link(decision)
            array[start : start + len(values)] = values
            written += len(values)
    finally:
        array.flush()
        del array
    return written


def _write_table(out, blocks):
    """Write blocks of named columns as CSV or Parquet (``out`` None: CSV on stdout); return the rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    written = 0
    writer = None
    try:
        for start, columns in blocks:
            table = pa.table({name: pa.array(values) for name, values in columns.items()})
            if writer is None:
                quoting = pacsv.WriteOptions(quoting_style="needed")
                if out is None:
                    sys.stdout.flush()
                    writer = pacsv.CSVWriter(sys.stdout.buffer, table.schema, write_options=quoting)
                elif out.suffix.lower() == ".parquet":
                    import pyarrow.parquet as pq

                    writer = pq.ParquetWriter(out, table.schema)
                else:
                    writer = pacsv.CSVWriter(out, table.schema, write_options=quoting)
            writer.write_table(table)
            written += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return written


def _info(args, status):
    from . import __version__, load
    from .persistence import FORMAT

    model = load(args.model)
    document = json.loads(Path(args.model).read_text())
    params = model.get_params()
    lines = [
        f"{FORMAT} {args.model}: schema {document['schema_version']}, written by fastgd "
        f"{document['fastgd_version']} (this is {__version__})",
        f"estimator: {type(model).__name__}",
        f"loss: {params['loss']}" + (f" (epsilon {params['epsilon']})" if params["loss"] == "huber" else ""),
        f"penalty: {params['penalty']}{_penalty_detail(params)}",
        f"features: {model.n_features_in_}" + _feature_summary(model),
    ]
    if hasattr(model, "classes_"):
        lines.append(f"classes: {len(model.classes_)}: {', '.join(map(str, model.classes_[:20]))}")
    lines.append(f"intercept: {np.array2string(np.asarray(model.intercept_), precision=6)}")
    n_coef = np.shape(model.coef_)[-1]
    lines.append(f"coefficients, {min(args.top, n_coef)} of {n_coef} largest by magnitude:")
    lines += _top_coefficients(model, args.top)
    lines += _by_category(model, args.top)
    history = model.loss_history_
    method = getattr(model, "optimizer_", None)
    training = f"training: {_count_of(model.n_iter_, 'epoch')}, {outcome(model)}"
    if method is not None:
        training += f", optimizer {method}"
    if method is None or method.rsplit(" ", 1)[-1] not in ("exact", "lbfgs"):  # the others take a rate
        training += f", learning rate {model.learning_rate_:.6g}"
    lines.append(training)
    if len(history):
        lines.append(f"objective: first epoch {history[0]:.10g}, last {history[-1]:.10g}, best {history.min():.10g}")
    validation = getattr(model, "validation_loss_history_", None)
    if validation is not None and len(validation):
        lines.append(f"validation loss: best {validation.min():.10g} at epoch {int(np.argmin(validation)) + 1}")
    if hasattr(model, "feature_mean_"):
        lines.append("standardized: yes (statistics saved with the model)")
    print("\n".join(lines))
    return 0


def _penalty_detail(params):
    if not params["penalty"]:
        return ""
    share = f", l1_ratio {params['l1_ratio']:g}" if params["penalty"] == "elasticnet" else ""
    return f" (alpha {params['alpha']:g}{share})"


def _feature_summary(model):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return " (unnamed)"
    shown = ", ".join(map(str, names[:12]))
    return f": {shown}" + (", ..." if len(names) > 12 else "")


def _by_category(model, top):
    """Per categorical column, its categories' coefficients, largest first (the
    first output's, for a multinomial model)."""
    categories = getattr(model, "categories_", None) or {}
    coef = np.atleast_2d(model.coef_)[0]
    names = list(model.get_feature_names_out())
    lines = []
    for column, found in categories.items():
        start = names.index(found.feature_names()[0])
        values = coef[start : start + found.size]
        labels = found.feature_names()
        kind = f"hashed into {found.size} buckets" if found.hashed else f"{found.size} categories"
        order = np.argsort(-np.abs(values), kind="stable")[:top]
        shown = ", ".join(f"{labels[j][len(column) + 1:]} {values[j]:.6g}" for j in order)
        more = ", ..." if found.size > top else ""
        lines.append(f"column {column!r} ({kind}), largest: {shown}{more}")
    return lines


def _top_coefficients(model, top):
    coef = np.atleast_2d(model.coef_)
    names = list(model.get_feature_names_out())
    strength = np.abs(coef).max(axis=0)
    order = np.argsort(-strength, kind="stable")[:top]
    width = max(len(str(names[j])) for j in order) if len(order) else 0
    lines = []
    for j in order:
        values = "  ".join(f"{v: .6g}" for v in coef[:, j])
        lines.append(f"  {str(names[j]):<{width}}  {values}")
    return lines


def _demo(args, status):
    from . import GDRegressor, open_dataset

    rng = np.random.default_rng(args.seed)
    out_dir = Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out-dir '{out_dir}': cannot create it ({error.strerror})") from None
    _check_outputs({"--out-dir": out_dir / "model.json"})
    start = time.perf_counter()
    coef = rng.uniform(-2.0, 2.0, args.features)
    intercept = 0.5
    names = [f"x{j}" for j in range(args.features)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"demo.{args.format}"
        _write_demo_data(path, rng, args, coef, intercept, names)
        print(f"data: {args.rows:,} x {args.features} float64 in {path.name} "
              f"({path.stat().st_size / 1e6:,.0f} MB, written in {time.perf_counter() - start:.2f} s)")
        dataset = open_dataset(path, target="y")
        model = GDRegressor(batch_size=args.batch_size, random_state=args.seed)
        start = time.perf_counter()
        interrupted, _ = _train(model, dataset, status, args.quiet)
        wall = time.perf_counter() - start
        del dataset
    error = np.abs(np.append(model.coef_ - coef, model.intercept_ - intercept)).max()
    mode = "full batch" if args.batch_size is None else f"mini-batch B={args.batch_size}"
    model.save(out_dir / "model.json")
    print(f"fit: {mode}, {_count_of(model.n_iter_, 'epoch')}, {outcome(model)}")
    print(f"final objective: {model.loss_history_[-1]:.10g} (noise floor {args.noise**2 / 2:.6g})")
    print(f"max coefficient error vs truth: {error:.3e}")
    print(f"wall time: {wall:.3f} s ({wall / model.n_iter_ * 1e3:.1f} ms per epoch, setup included)")
    print(f"model: {out_dir / 'model.json'}")
    try:
        from .plot import plot_history

        plot_history(model, out_dir / "loss.png", title=f"fastgd demo: {args.rows:,} x {args.features}")
        print(f"loss curve: {out_dir / 'loss.png'}")
    except ImportError as missing:
        print(f"loss curve: skipped ({missing})")
    return INTERRUPTED if interrupted else 0


def _write_demo_data(path, rng, args, coef, intercept, names):
    """Write the demo problem in slices: memory stays bounded by one slice."""
    import pyarrow as pa

    schema = pa.schema([(n, pa.float64()) for n in names] + [("y", pa.float64())])
    if args.format == "parquet":
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(path, schema)
    else:
        writer = pa.ipc.new_file(str(path), schema)
    try:
        for first in range(0, args.rows, 65536):
            rows = min(65536, args.rows - first)
            X = rng.standard_normal((rows, args.features))
            y = X @ coef + intercept + args.noise * rng.standard_normal(rows)
            writer.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "y": y}, schema=schema))
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main())
