"""The command line, end to end, through real subprocesses."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import fastgd


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fastgd", *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(81)
    X = rng.standard_normal((6000, 3))
    y = X @ [1.0, -2.0, 0.5] + 1.0 + 0.3 * rng.standard_normal(6000)
    kind = np.array(["low", "mid", "high"])[np.digitize(y, [0.0, 2.0])]
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y, "kind": kind})
    pq.write_table(table, root / "d.parquet", row_group_size=1000)
    pacsv.write_csv(table, root / "d.csv")
    return root, table


def test_fit_predict_info_on_parquet_and_csv_match_the_library(files):
    root, table = files
    for data in ("d.parquet", "d.csv"):
        model = root / f"{data}.json"
        fitted = run("fit", root / data, "--target", "y", "--features", "a", "b", "c", "--penalty", "l2",
                     "--alpha", "0.001", "--standardize", "--out", model, "--history", root / "h.csv")
        assert fitted.returncode == 0, fitted.stderr
        assert f"wrote {model}" in fitted.stdout and "converged" in fitted.stdout
        predicted = run("predict", model, root / data, "--out", root / f"{data}.parquet")
        assert predicted.returncode == 0, predicted.stderr
        library = fastgd.GDRegressor(penalty="l2", alpha=0.001, standardize=True)
        library.fit(fastgd.open_dataset(root / data, target="y", features=["a", "b", "c"]))
        written = pq.read_table(root / f"{data}.parquet").column("prediction").to_numpy()
        np.testing.assert_array_equal(written, library.predict(table.select(["a", "b", "c"])))
        info = run("info", model)
        assert info.returncode == 0, info.stderr
        assert "estimator: GDRegressor" in info.stdout and "penalty: l2 (alpha 0.001" in info.stdout
        assert "features: 3: a, b, c" in info.stdout and "converged" in info.stdout
        assert "optimizer exact" in info.stdout and "learning rate" not in info.stdout  # the solve takes no steps
        assert f"fastgd {fastgd.__version__}" in info.stdout
    history = (root / "h.csv").read_text().splitlines()
    assert history[0] == "epoch,objective" and len(history) == library.n_iter_ + 1


def test_svmlight_files_need_no_target(tmp_path):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(83)
    X = sp.random(3000, 200, density=0.03, format="csr", random_state=rng)
    y = (X @ rng.standard_normal(200) + 0.2 * rng.standard_normal(3000) > 0).astype(int)
    sklearn_datasets.dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    fitted = run("fit", tmp_path / "train.svm", "--loss", "log_loss", "--penalty", "l2", "--alpha", "1e-3",
                 "--out", tmp_path / "m.json")
    assert fitted.returncode == 0, fitted.stderr
    assert "200 features, 3,000 rows" in fitted.stdout and "converged" in fitted.stdout
    library = fastgd.GDClassifier(penalty="l2", alpha=1e-3).fit(X, y)
    predicted = run("predict", tmp_path / "m.json", tmp_path / "train.svm", "--out", tmp_path / "p.npy")
    assert predicted.returncode == 0, predicted.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), library.predict(X))
    missing = run("fit", tmp_path / "m.json", "--out", tmp_path / "n.json")
    assert missing.returncode == 2 and "fastgd: error: --target is required" in missing.stderr


def test_classifier_labels_and_probabilities(files):
    root, table = files
    model = root / "kind.json"
    assert run("fit", root / "d.parquet", "--target", "kind", "--features", "a", "b", "c", "--loss", "log_loss",
               "--class-weight", "balanced", "--out", model).returncode == 0
    for suffix in ("csv", "npy", "parquet"):
        out = root / f"kind.{suffix}"
        done = run("predict", model, root / "d.parquet", "--out", out, *(["--proba"] if suffix != "npy" else []))
        assert done.returncode == 0, done.stderr
    loaded = fastgd.load(model)
    expected = loaded.predict(table.select(["a", "b", "c"]))
    written = pacsv.read_csv(root / "kind.csv")
    np.testing.assert_array_equal(written.column("prediction").to_numpy(zero_copy_only=False), expected)
    np.testing.assert_array_equal(np.load(root / "kind.npy"), expected.astype(str))
    proba = np.column_stack([written.column(f"proba_{c}").to_numpy() for c in loaded.classes_])
    np.testing.assert_array_equal(proba, loaded.predict_proba(table.select(["a", "b", "c"])))


@pytest.mark.parametrize("case", ["regressor", "binary", "multinomial"])
def test_save_load_predict_is_bit_identical(tmp_path, case):
    rng = np.random.default_rng(82)
    X = rng.standard_normal((3000, 4)) * [1.0, 10.0, 0.1, 3.0]
    if case == "regressor":
        model = fastgd.GDRegressor(penalty="elasticnet", alpha=0.01, standardize=True).fit(X, X @ [1, 2, 3, 4.0])
    elif case == "binary":
        labels = np.where(X[:, 0] + rng.standard_normal(3000) > 0, "yes", "no")
        model = fastgd.GDClassifier(early_stopping=True, random_state=0).fit(X, labels)
    else:
        labels = np.digitize(X[:, 1] + 3 * rng.standard_normal(3000), [-5, 5]) + 10
        model = fastgd.GDClassifier(penalty="l2", alpha=1e-3, standardize=True).fit(X, labels)
    model.save(tmp_path / "m.json")
    loaded = fastgd.load(tmp_path / "m.json")
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if case != "regressor":
        np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        assert loaded.classes_.dtype == model.classes_.dtype
    np.testing.assert_array_equal(loaded.loss_history_, model.loss_history_)


def _corrupt(document, case):
    if case == "schema version":
        document["schema_version"] = 7
    elif case == "class name":
        document["estimator"] = "os.system"
    elif case == "coef length":
        document["coef"] = document["coef"][:-1]
    elif case == "parameter":
        document["params"]["exec"] = "print(1)"
    elif case == "format":
        document["format"] = "pickle"
    elif case == "non-finite":
        document["intercept"] = "NaN"
    return document


MALFORMED = {
    "schema version": "unknown schema version 7; this fastgd reads versions 1, 2",
    "class name": "unknown estimator class 'os.system'; known: GDClassifier, GDRegressor",
    "coef length": r"coef has shape \(2,\), expected \(3,\)",
    "parameter": "unknown parameters for GDRegressor: exec",
    "format": "it is not a fastgd model file",
    "non-finite": "intercept",
}


@pytest.mark.parametrize("case", [*MALFORMED, "truncated"])
def test_malformed_models_exit_2_with_a_clear_message(tmp_path, files, case):
    root, _ = files
    good = tmp_path / "good.json"
    fastgd.GDRegressor().fit(np.eye(3) + 1, [1.0, 2.0, 3.0]).save(good)
    bad = tmp_path / "bad.json"
    if case == "truncated":
        text = good.read_text()
        bad.write_text(text[: len(text) // 2])
        expected = "is not a valid model file \\(truncated or corrupt\\?\\)"
    else:
        bad.write_text(json.dumps(_corrupt(json.loads(good.read_text()), case)))
        expected = MALFORMED[case]
    for command in (["info", bad], ["predict", bad, root / "d.parquet", "--out", tmp_path / "p.parquet"]):
        done = run(*command)
        assert done.returncode == 2
        assert done.stderr.startswith("fastgd: error: ") and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr
        import re

        assert re.search(expected, done.stderr), done.stderr
    with pytest.raises(fastgd.ModelFileError):
        fastgd.load(bad)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["fit", "missing.parquet", "--target", "y", "--out", "m.json"], "no such file or directory: 'missing.parquet'"),
        (["fit", "{root}/d.parquet", "--target", "price", "--out", "m.json"], "target column 'price' not found"),
        (["fit", "{root}/d.parquet", "--target", "y", "--features", "a", "zz", "--out", "m.json"], "feature column 'zz' not found"),
        (["fit", "{root}/d.parquet", "--target", "y", "--alpha", "-1", "--penalty", "l2", "--out", "m.json"], "alpha must be finite and >= 0"),
        (["fit", "{root}/d.parquet", "--target", "y", "--loss", "cubic", "--out", "m.json"], "unknown loss 'cubic'"),
        (["fit", "{root}/d.parquet", "--target", "kind", "--out", "m.json"], "target column 'kind' holds values such as"),
        (["predict", "missing.json", "{root}/d.parquet", "--out", "p.parquet"], "no such model file: 'missing.json'"),
        (["predict", "{root}/model-abc.json", "{root}/only-ab.parquet", "--out", "{root}/p.parquet"], "lacks feature columns the model was fitted with: 'c'"),
        (["predict", "{root}/model-abc.json", "{root}/d.parquet", "--out", "{root}/p.txt"], "--out must end in .parquet, .csv or .npy"),
        (["predict", "{root}/model-abc.json", "{root}/d.parquet", "--out", "{root}/d.parquet"], "would overwrite the input"),
        (["predict", "{root}/model-abc.json", "{root}/d.csv", "--out", "{root}/d.csv"], "would overwrite the input"),
        (["fit", "{root}/d.parquet", "--target", "y", "--out", "{root}/d.parquet"], "would overwrite the input"),
        (["fit", "{root}", "--target", "y", "--out", "{root}/m.json"], "would overwrite the input"),
        (["fit", "{root}/d.parquet", "--target", "y", "--features", "a", "a", "--out", "m.json"], "feature column 'a' listed twice"),
    ],
)
def test_user_errors_exit_2_with_one_line(files, tmp_path, arguments, message):
    root, table = files
    if not (root / "model-abc.json").exists():
        fastgd.GDRegressor().fit(table.select(["a", "b", "c"]), table.column("y").to_numpy()).save(root / "model-abc.json")
        pq.write_table(table.select(["a", "b"]), root / "only-ab.parquet")
    done = subprocess.run([sys.executable, "-m", "fastgd", *[a.format(root=root) for a in arguments]],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("fastgd: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert pq.read_table(root / "d.parquet").equals(table)  # inputs are only ever read


def test_bad_option_values_get_the_estimators_message(files):
    root, _ = files
    done = run("fit", root / "d.parquet", "--target", "y", "--out", "m.json", "--standardize", "maybe")
    assert done.returncode == 2
    assert done.stderr == "fastgd: error: standardize must be 'auto', True or False, got 'maybe'\n"


def test_plot_is_a_real_picture(files, tmp_path):
    root, _ = files
    png = tmp_path / "curve.png"
    done = run("fit", root / "d.parquet", "--target", "y", "--features", "a", "b", "c", "--out", tmp_path / "m.json",
               "--plot", png, "--batch-size", "64", "--early-stopping", "--random-state", "0")
    assert done.returncode == 0, done.stderr
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (600, 700)
    assert image[..., :3].std() > 0.05  # not blank: lines and text on white


def test_plot_without_matplotlib_names_the_extra(files, tmp_path):
    root, _ = files
    code = (
        "import sys; sys.modules['matplotlib'] = None; from fastgd.cli import main; "
        f"sys.exit(main(['fit', r'{root / 'd.parquet'}', '--target', 'y', '--out', r'{tmp_path / 'm.json'}', "
        f"'--plot', r'{tmp_path / 'p.png'}']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == "fastgd: error: plots need matplotlib: pip install 'fastgd[plot]'"
    assert not (tmp_path / "m.json").exists()  # checked before any work


def test_ctrl_c_stops_after_the_epoch_and_writes_the_partial_model(tmp_path):
    rng = np.random.default_rng(83)
    X = rng.standard_normal((300_000, 20))
    table = pa.table({**{f"x{j}": X[:, j] for j in range(20)}, "y": X.sum(axis=1) + rng.standard_normal(300_000)})
    pq.write_table(table, tmp_path / "big.parquet")
    model = tmp_path / "m.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "fastgd", "fit", tmp_path / "big.parquet", "--target", "y", "--batch-size", "1",
         "--max-iter", "1000", "--tol", "none", "--verbose", "1", "--out", model],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 240
    for line in process.stderr:
        if "epoch 2:" in line or time.time() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 130, err
    loaded = fastgd.load(model)
    assert loaded.interrupted_ and not loaded.converged_ and 2 <= loaded.n_iter_ < 1000
    assert "interrupted" in out


def test_keyboard_interrupt_in_fit_keeps_the_last_completed_epoch():
    rng = np.random.default_rng(84)
    X = rng.standard_normal((2000, 3))
    seen = []

    def callback(epoch, objective, coef):
        seen.append(coef.copy())
        if epoch == 3:
            raise KeyboardInterrupt

    model = fastgd.GDRegressor(optimizer="sgd", learning_rate=0.01, callbacks=callback)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, X @ [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(model.coef_, seen[2])
    assert model.interrupted_ and not model.converged_ and model.n_iter_ == 3


def test_demo_and_help(tmp_path):
    done = run("demo", "--rows", "20000", "--features", "5", "--out-dir", tmp_path / "demo", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "max coefficient error vs truth" in done.stdout and "fit: full batch" in done.stdout
    assert fastgd.load(tmp_path / "demo" / "model.json").n_features_in_ == 5
    assert (tmp_path / "demo" / "loss.png").stat().st_size > 1000
    for command in ("fit", "predict", "info", "demo"):
        shown = run(command, "--help")
        assert shown.returncode == 0 and "examples:" in shown.stdout and f"fastgd {command}" in shown.stdout
    assert run("--version").stdout.strip() == f"fastgd {fastgd.__version__}"


def test_pickle_round_trip():
    import pickle

    X = np.random.default_rng(85).standard_normal((500, 3))
    model = fastgd.GDClassifier(penalty="l2", alpha=1e-2).fit(X, X[:, 0] > 0)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X), model.predict_proba(X))
