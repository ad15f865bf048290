"""Fits in forked workers and concurrent threads, and the threads fits use."""

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import numba
import numpy as np
import pytest

import fastgd
from fastgd import _threads, passes
from fastgd._threads import share
from fastgd.kernels import fused, gram, stats
from fastgd.solvers import minibatch

from .datasets import make_regression

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Rows x parameters large enough for the threaded kernels (see fastgd._config.PASS_THREAD_WORK),
#: and features enough that a mini-batch of 256 rows is shared by the threads
#: (see fastgd.optim.epoch.chunk_rows).
BIG = (30_000, 40)


@pytest.fixture(autouse=True)
def threads_for_any_epoch(monkeypatch):
    """Mini-batch epochs of BIG's size stay on one thread unless told otherwise
    (fastgd._config.MINIBATCH_THREAD_WORK): here they share their batches."""
    monkeypatch.setattr(minibatch, "MINIBATCH_THREAD_WORK", 0)


def fit_big(seed=0, **params):
    X, y, _ = make_regression(*BIG, seed=seed)
    if params.get("optimizer") is None:
        params.pop("optimizer", None)
        if params.get("batch_size") is None:
            # L-BFGS runs many short passes on fastgd's own threads, "exact" one Gram pass.
            params["optimizer"] = "lbfgs"
    model = fastgd.GDRegressor(penalty="l2", alpha=1e-3, max_iter=20, tol=None, **params).fit(X, y)
    model.predict(X)  # a parallel region of the threading layer
    return np.append(model.coef_, model.intercept_)


def test_fastgd_runs_on_the_tbb_layer():
    assert _threads.layer() == "tbb"


@pytest.mark.parametrize("layer", ["tbb", "safe", "threadsafe"])
def test_a_layer_the_user_names_that_may_be_tbb_finds_it(layer):
    code = "import numba, tests.test_threads as t; t.fit_big(); print(numba.threading_layer())"
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.stdout.strip() == "tbb", out.stderr[-2000:]


KINDS = [(None, "lbfgs"), (None, "exact"), (256, None)]


@pytest.mark.parametrize("batch_size, optimizer", KINDS)
def test_fits_in_forked_workers_after_the_parent_trained(batch_size, optimizer):
    reference = fit_big(batch_size=batch_size, optimizer=optimizer, random_state=0)  # threads run first
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        results = pool.starmap_async(_fit_in_child, [(batch_size, optimizer)] * 4).get(timeout=300)
    for result in results:
        np.testing.assert_array_equal(result, reference)


def _fit_in_child(batch_size, optimizer=None):
    return fit_big(batch_size=batch_size, optimizer=optimizer, random_state=0)


@pytest.mark.parametrize("batch_size, optimizer", KINDS)
def test_eight_fits_from_python_threads_at_once(batch_size, optimizer):
    def fit(seed):
        return fit_big(seed, batch_size=batch_size, optimizer=optimizer, random_state=0)

    references = [fit(seed) for seed in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fit, range(8)))
    for result, reference in zip(results, references):
        np.testing.assert_array_equal(result, reference)


@pytest.mark.parametrize("layer", ["omp", "workqueue"])
def test_other_layers_stay_safe_in_forks_and_threads(layer):
    """Where TBB is missing: a fork after OpenMP runs serially, workqueue calls are serialized."""
    code = textwrap.dedent(
        """
        import concurrent.futures, multiprocessing, numba, numpy as np
        from fastgd.solvers import minibatch
        from tests.test_threads import fit_big, _fit_in_child
        minibatch.MINIBATCH_THREAD_WORK = 0
        reference = fit_big()
        assert numba.threading_layer() == "{layer}"
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert all(np.array_equal(r, reference) for r in pool.map(lambda s: fit_big(), range(4)))
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.starmap_async(_fit_in_child, [(None,)] * 2).get(timeout=300)
        assert all(np.array_equal(r, reference) for r in results)
        reference = fit_big(batch_size=256, random_state=0)  # the threaded mini-batch epoch
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda s: fit_big(batch_size=256, random_state=0), range(4)))
        assert all(np.array_equal(r, reference) for r in results)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.starmap_async(_fit_in_child, [(256,)] * 2).get(timeout=300)
        assert all(np.array_equal(r, reference) for r in results)
        print("ok")
        """
    ).format(layer=layer)
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_small_work_never_wakes_threads(monkeypatch):
    threaded = []
    kernel = passes.predict
    monkeypatch.setattr(passes, "predict", lambda *args: threaded.append(1) or kernel(*args))
    shared = []
    for module in (gram, stats, fused):
        monkeypatch.setattr(module, "share", lambda kernel, args, threads: shared.append(threads) or share(kernel, args, threads))
    X, y, _ = make_regression(500, 10, seed=1)
    fastgd.GDRegressor(standardize=True).fit(X, y).predict(X)
    fastgd.GDRegressor(optimizer="lbfgs").fit(X, y)
    assert threaded == [] and set(shared) == {1}
    X, y, _ = make_regression(*BIG)
    fastgd.GDRegressor(optimizer="lbfgs", max_iter=2, tol=None).fit(X, y).predict(X)
    assert threaded and _threads.thread_limit() in shared  # and big work does (the passes, the predictions)
    del shared[:]
    X, y = np.tile(X, (2, 1)), np.tile(y, 2)  # 2.4M elements, 60,000 x 42**2 multiply-adds
    fastgd.GDRegressor().fit(X, y)
    fastgd.GDRegressor(optimizer="lbfgs", max_iter=1, tol=None).fit(X, y)
    assert len(shared) >= 2 and set(shared) == {_threads.thread_limit()}


def test_share_runs_the_kernel_on_every_thread_and_raises_a_helpers_error():
    seen = []

    def kernel(box):
        seen.append(threading.current_thread())
        if box and threading.current_thread() is not threading.main_thread():
            raise ValueError(box[0])

    for _ in range(3):  # the helpers wait between calls: the same ones serve again
        share(kernel, ([],), 3)
        assert len(seen) == 3 and len(set(seen)) == 3 and threading.main_thread() in seen
        del seen[:]
    with pytest.raises(ValueError, match="from a helper"):
        share(kernel, (["from a helper"],), 2)
    share(kernel, ([],), 2)  # and they still serve after one failed
    assert len(set(seen[-2:])) == 2


def test_closed_helpers_end_and_later_calls_start_threads_of_their_own(monkeypatch):
    helpers = _threads._Helpers()  # what runs at exit, on helpers of this test's own
    monkeypatch.setattr(_threads, "_helpers", helpers)
    seen = []

    def kernel():
        seen.append(threading.current_thread())

    share(kernel, (), 2)
    helpers.close()
    assert helpers.threads and not any(thread.is_alive() for thread in helpers.threads)
    share(kernel, (), 2)  # closed helpers would leave it waiting forever
    assert len(seen) == 4 and len(set(seen[2:])) == 2


def test_share_keeps_nothing_of_a_call_alive():
    class Payload:
        pass

    payload = Payload()
    alive = weakref.ref(payload)
    share(lambda item: None, (payload,), 2)
    del payload
    assert alive() is None


def test_share_from_several_python_threads_at_once():
    def kernel(ticket, out, rows):
        for i in rows:
            if compare_exchange_py(ticket, i):
                out[i] += 1

    def call(seed):
        out = np.zeros(200, np.int64)
        share(kernel, ([False] * 200, out, range(200)), 2)
        return out

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(8)))
    for out in results:
        assert np.array_equal(out, np.ones(200, np.int64))  # each row once, whichever thread took it


_claims = threading.Lock()


def test_a_process_exits_cleanly_right_after_a_threaded_fit():
    # It ends while the helpers still watch for the next call in compiled code.
    code = "import fastgd._threads as t, tests.test_threads as tt; tt.fit_big(); assert t._helpers.threads"
    # Dask's LocalCluster, started by earlier tests, sets OMP_NUM_THREADS=1 in this process.
    env = {name: value for name, value in os.environ.items() if name != "OMP_NUM_THREADS"}
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                             timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]


def compare_exchange_py(ticket, i):
    with _claims:
        if ticket[i]:
            return False
        ticket[i] = True
        return True


def test_fits_follow_the_thread_limits_users_set():
    code = textwrap.dedent(
        """
        import numba, fastgd
        from tests.test_threads import BIG, make_regression
        seen = []
        model = fastgd.GDRegressor(max_iter=2, tol=None, callbacks=lambda *_: seen.append(numba.get_num_threads()))
        model.fit(*make_regression(*BIG)[:2])
        print(numba.config.NUMBA_NUM_THREADS, sorted(set(seen)))
        """
    )
    # What joblib, loky and Dask set for their workers.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.stdout.split()[-1] == "[1]" and int(out.stdout.split()[0]) >= 2, out.stdout + out.stderr[-2000:]
    seen = []
    model = fastgd.GDRegressor(max_iter=2, tol=None, callbacks=lambda *_: seen.append(numba.get_num_threads()))
    X, y, _ = make_regression(*BIG)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        seen.clear()
        model.fit(X, y)
        assert set(seen) == {1}
    finally:
        numba.set_num_threads(before)
    seen.clear()
    model.fit(X, y)
    assert set(seen) == {before} and numba.get_num_threads() == before


def test_grid_search_with_worker_processes():
    from sklearn.model_selection import GridSearchCV

    X, y, _ = make_regression(2000, 10, seed=2)
    grid = GridSearchCV(fastgd.GDRegressor(penalty="l2"), {"alpha": [1e-4, 1e-2, 1.0]}, cv=3, n_jobs=2).fit(X, y)
    serial = GridSearchCV(fastgd.GDRegressor(penalty="l2"), {"alpha": [1e-4, 1e-2, 1.0]}, cv=3).fit(X, y)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-12)
