"""The fused pass and the losses, against numpy references and finite differences."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastgd
from fastgd import kernels, losses, passes, problem
from fastgd.solvers import minibatch
from fastgd._config import CHUNK_ROWS
from fastgd._validation import readonly
from fastgd.optim import epoch, rules, space

from .datasets import make_classification, make_regression
from .naive import gradient_sums, loss_terms, objective

ALL_ROWS = readonly(np.empty(0, np.int64))
NO_WEIGHTS = readonly(np.empty(0))
LOSSES = {"squared_error": kernels.SQUARED_ERROR, "log_loss": kernels.LOG_LOSS}


def full_pass(X, y, theta, loss, sw=NO_WEIGHTS, idx=ALL_ROWS, threads=2):
    total = np.zeros(len(theta) + 2)
    # n_out None: one output, as fits pass it (the softmax code is left out).
    kernels.full_pass(readonly(X), readonly(y), readonly(sw), theta, loss, 0.0, None, idx, CHUNK_ROWS, total, threads)
    return total


def test_one_output_passes_the_same_with_and_without_the_softmax_compiled():
    X, y, _ = make_regression(3 * CHUNK_ROWS + 7, 5, seed=4)
    theta = np.linspace(-0.5, 0.5, 6)
    with_softmax = np.zeros(8)
    kernels.full_pass(readonly(X), readonly(y), NO_WEIGHTS, theta, kernels.SQUARED_ERROR, 0.0, 1, ALL_ROWS,
                      CHUNK_ROWS, with_softmax)
    assert np.array_equal(full_pass(X, y, theta, kernels.SQUARED_ERROR), with_softmax)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(LOSSES)),
    p=st.floats(-30, 30),
    y=st.floats(-5, 5),
)
def test_loss_and_derivative_match_definition_and_finite_differences(name, p, y):
    if name == "log_loss":
        y = 1.0 if y >= 0 else -1.0
    code = LOSSES[name]
    value, derivative = kernels.loss_grad(code, p, y, 0.0)
    assert value == pytest.approx(loss_terms(np.array(p), y, name), rel=1e-12, abs=1e-300)
    h = 1e-5 * max(1.0, abs(p))
    central = (kernels.loss_grad(code, p + h, y, 0.0)[0] - kernels.loss_grad(code, p - h, y, 0.0)[0]) / (2 * h)
    assert derivative == pytest.approx(central, rel=1e-6, abs=1e-8)


def test_log_loss_is_finite_for_extreme_margins():
    for p in (-800.0, 800.0):
        for y in (-1.0, 1.0):
            value, derivative = kernels.loss_grad(kernels.LOG_LOSS, p, y, 0.0)
            assert np.isfinite(value) and np.isfinite(derivative)
            assert value == pytest.approx(np.logaddexp(0.0, -y * p), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("weighted", [False, True])
def test_full_pass_matches_numpy(dtype, loss, weighted):
    X, y, _ = make_regression(30_000, 7, dtype=dtype)
    if loss == "log_loss":
        y = np.where(y > 1.5, 1.0, -1.0)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0, 3, len(y)) if weighted else NO_WEIGHTS
    theta = rng.standard_normal(8) * 0.3
    total = full_pass(X, y, theta, LOSSES[loss], sw)
    gw, gb, loss_sum = gradient_sums(
        X.astype(np.float64), y, theta[:7], theta[7], loss, sw if weighted else None
    )
    np.testing.assert_allclose(total[:7], gw, rtol=1e-11)
    assert total[7] == pytest.approx(gb, rel=1e-11)
    assert total[8] == pytest.approx(loss_sum, rel=1e-12)
    assert total[9] == pytest.approx(sw.sum() if weighted else len(y), rel=1e-14)


def test_full_pass_over_index_subset_equals_pass_over_those_rows():
    X, y, _ = make_regression(20_000, 4)
    idx = np.random.default_rng(2).choice(len(y), 5000, replace=False)
    theta = np.full(5, 0.1)
    subset = full_pass(X, y, theta, kernels.SQUARED_ERROR, idx=readonly(idx))
    direct = full_pass(X[idx], y[idx], theta, kernels.SQUARED_ERROR)
    np.testing.assert_allclose(subset, direct, rtol=1e-12)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_objective_gradient_matches_central_differences(loss):
    X, y, _ = make_regression(3000, 5, seed=3)
    if loss == "log_loss":
        y = np.where(y > 1.5, 1.0, -1.0)
    sw = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    objective_problem = problem.Problem(
        source=fastgd.data.ArraySource(X, y=y, w=sw), loss=losses.REGISTRY[loss], l2=0.3, fit_intercept=True
    )
    theta = np.random.default_rng(5).standard_normal(6) * 0.2

    def f(t):
        return objective_problem.objective(objective_problem.sums(t), t)

    sums = objective_problem.sums(theta)
    grad = np.empty(6)
    l2w, _, mask = objective_problem.weights
    rules.gradient(sums, 1.0 / sums[7], mask, grad)
    grad += l2w * theta  # the penalty's gradient, which the rules apply by its prox
    h = 1e-6
    central = [(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(6)]
    np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-9)
    assert f(theta) == pytest.approx(
        objective(X, y, theta[:5], theta[5], loss, l2=0.3, sample_weight=sw), rel=1e-12
    )


def test_pass_is_bit_identical_across_runs_and_thread_counts():
    X, y, _ = make_regression(100_000, 9)  # more chunks than one wave holds
    theta = np.linspace(-1, 1, 10)
    results = [full_pass(X, y, theta, kernels.SQUARED_ERROR, threads=threads) for threads in (1, 1, 2, 2, 3, 8)]
    for other in results[1:]:
        assert np.array_equal(results[0], other)


@pytest.mark.parametrize("weighted", [False, True])
def test_column_stats_do_not_depend_on_threads_or_blocks(weighted):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300_000, 7)) * 5 + 50  # more chunks than one wave holds
    w = rng.uniform(0, 2, X.shape[0]) if weighted else np.empty(0)
    rows = rng.permutation(X.shape[0])[:250_000]
    shift, center, inv = X[0].copy(), X.mean(0), 1 / X.std(0)
    X, w = readonly(X), readonly(w)  # as fits pass them: no other specialization

    def stats(idx, threads, block=None):
        sums, extremes = np.zeros((2, 7)), np.zeros(3)
        for part in np.split(idx, np.arange(block, len(idx), block)) if block else [idx]:  # whole chunks a block
            part = readonly(part)
            kernels.column_stats(X, w, shift, center, inv, part, CHUNK_ROWS, sums, extremes, threads)
        return np.concatenate([sums.ravel(), extremes])

    for idx in (np.arange(X.shape[0]), rows):
        results = [stats(idx, threads) for threads in (1, 2, 3, 8)] + [stats(idx, 2, block=10 * CHUNK_ROWS)]
        assert all(np.array_equal(results[0], other) for other in results[1:])
        s = w[idx] if weighted else np.ones(len(idx))
        Z = X[idx] - shift
        norms = (((X[idx] - center) * inv) ** 2).sum(1) * s
        expected = np.concatenate([s @ Z, s @ Z**2, [norms.max(), s.sum(), s.max()]])
        np.testing.assert_allclose(results[0], expected, rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    X=arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)), elements=st.floats(-100, 100)),
    split=st.floats(0, 1),
)
def test_partial_sums_compose_by_addition(X, split):
    y = X.sum(axis=1) * 0.5 - 1.0
    theta = np.array([0.3, -0.2, 0.1, 0.05])
    whole = full_pass(X, y, theta, kernels.SQUARED_ERROR)
    k = int(split * len(X))
    parts = full_pass(X[:k], y[:k], theta, kernels.SQUARED_ERROR) if k else 0.0
    parts = parts + (full_pass(X[k:], y[k:], theta, kernels.SQUARED_ERROR) if k < len(X) else 0.0)
    np.testing.assert_allclose(parts, whole, rtol=1e-10, atol=1e-9)
    doubled = full_pass(np.vstack([X, X]), np.concatenate([y, y]), theta, kernels.SQUARED_ERROR)
    np.testing.assert_allclose(doubled, 2 * whole, rtol=1e-12, atol=1e-9)


def _record_rows(monkeypatch, module, names, rows_of=lambda first: first):
    """Spy on kernels ``names`` of ``module``: record the rows each call reads."""
    seen = []
    for name in names:
        kernel = getattr(module, name)

        def spy(first, *args, kernel=kernel):
            seen.append(rows_of(first))
            return kernel(first, *args)

        monkeypatch.setattr(module, name, spy)
    return seen


@pytest.mark.parametrize("batch_size", [None, 64])
def test_float32_input_reaches_the_kernel_without_a_copy(monkeypatch, batch_size):
    X, y, _ = make_regression(5000, 6, dtype=np.float32)
    if batch_size is None:
        seen = _record_rows(monkeypatch, passes, ["full_pass", "dense_gram"])
    else:
        seen = _record_rows(monkeypatch, minibatch, ["minibatch_epoch"], lambda rows: rows.X)
    fastgd.GDRegressor(batch_size=batch_size, max_iter=3, tol=None).fit(X, y)
    assert seen
    for arg in seen:
        assert arg.dtype == np.float32
        assert arg.ctypes.data == X.ctypes.data and arg.shape == X.shape


@pytest.mark.parametrize("mapped", [False, True])
def test_a_fortran_array_is_converted_once_for_minibatch_unless_mapped(monkeypatch, tmp_path, mapped):
    X, y, _ = make_regression(100_000, 6)  # more than one conversion piece (4 MiB)
    F = np.asfortranarray(X)  # what DataFrame.to_numpy() gives
    if mapped:
        np.save(tmp_path / "F.npy", F)
        F = np.load(tmp_path / "F.npy", mmap_mode="r")
        assert F.flags.f_contiguous
    seen = _record_rows(monkeypatch, minibatch, ["minibatch_epoch"], lambda rows: rows.X)
    model = fastgd.GDRegressor(batch_size=64, max_iter=3, tol=None, random_state=0).fit(F, y)
    if mapped:  # bounded pieces, never the whole array
        assert max(arg.shape[0] for arg in seen) < X.shape[0]
    else:
        assert len({arg.ctypes.data for arg in seen}) == 1 and seen[0].shape == X.shape
    assert all(arg.flags.c_contiguous for arg in seen) and F.flags.f_contiguous
    reference = fastgd.GDRegressor(batch_size=64, max_iter=3, tol=None, random_state=0).fit(X, y)
    assert np.array_equal(model.coef_, reference.coef_) and model.intercept_ == reference.intercept_


def test_a_fortran_array_is_converted_at_its_second_pass_and_never_for_one(monkeypatch):
    X, y, _ = make_regression(100_000, 6)
    F = np.asfortranarray(X)
    source = fastgd.open_dataset(F, target=y).source
    first = [block.X.shape[0] for block in source.blocks()]
    second = [block.X.shape[0] for block in source.blocks()]
    assert len(first) > 1 and second == [X.shape[0]]  # pieces, then the whole converted copy
    assert np.array_equal(next(source.blocks()).X, X) and F.flags.f_contiguous
    seen = _record_rows(monkeypatch, passes, ["dense_gram"])
    fastgd.GDRegressor(optimizer="exact").fit(F, y)  # one pass: no whole copy
    assert len(seen) > 1 and max(X.shape[0] for X in seen) < X.shape[0]


KERNELS = [
    fastgd.kernels.fused.pass_chunks, kernels.full_pass_serial, kernels.predict, kernels.predict_serial,
    fastgd.kernels.stats.stats_chunks, kernels.accumulate,
    fastgd.kernels.fused.accumulate_blocked, fastgd.kernels.columns.column_pass,
    fastgd.kernels.columns.column_pass_serial, kernels.loss_sum, kernels.loss_grad,
    kernels.softmax_loss_grad, epoch.batch_loop, rules.update, rules.gradient, space.to_raw,
    space.gradient_to_standard,
]


def test_second_fit_compiles_nothing(tmp_path):
    def fit_all(n, seed):
        for dtype in (np.float64, np.float32):
            X, y, _ = make_regression(n, 4, seed=seed, dtype=dtype)
            fastgd.GDRegressor(max_iter=5, tol=None).fit(X, y).predict(X)
            fastgd.GDRegressor(batch_size=16, max_iter=2, tol=None).fit(X, y)
            Xc, yc = make_classification(n, 4, seed=seed)
            fastgd.GDClassifier(max_iter=5, tol=None).fit(Xc.astype(dtype), yc)

    before = [len(k.signatures) for k in KERNELS]  # earlier tests may have compiled some
    fit_all(500, 0)
    counts = [len(k.signatures) for k in KERNELS]
    fit_all(3000, 1)
    X, y, _ = make_regression(3000, 4)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    fastgd.GDRegressor(max_iter=5, tol=None).fit(mapped, y).predict(mapped)
    assert [len(k.signatures) for k in KERNELS] == counts
    assert max(after - was for after, was in zip(counts, before)) <= 2  # one specialization per input dtype


def test_blocks_aligned_to_chunks_sum_bit_identically_to_one_pass():
    X, y, _ = make_regression(10 * CHUNK_ROWS + 123, 5, seed=9)
    theta = np.linspace(-0.5, 0.5, 6)
    whole = full_pass(X, y, theta, kernels.SQUARED_ERROR)
    total = np.zeros(8)
    for start in range(0, len(y), 3 * CHUNK_ROWS):
        part = slice(start, start + 3 * CHUNK_ROWS)
        kernels.full_pass(readonly(X[part]), readonly(y[part]), NO_WEIGHTS, theta, 0, 0.0, None, ALL_ROWS, CHUNK_ROWS,
                          total)
    assert np.array_equal(total, whole)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 4, 7])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_column_pass_matches_the_row_pass(dtype, d, loss):
    from fastgd.kernels.columns import column_pass

    X, y, _ = make_regression(5000, d, seed=10, dtype=dtype)
    if loss == "log_loss":
        y = np.where(y > 1.5, 1.0, -1.0)
    sw = np.random.default_rng(11).uniform(0, 2, 5000)
    theta = np.random.default_rng(12).standard_normal(d + 1) * 0.3
    columns = [np.ascontiguousarray(X[:, j]) for j in range(d)]
    addresses = readonly(np.array([c.ctypes.data for c in columns], np.int64))
    total = np.zeros(d + 3)
    column_pass(addresses, np.empty(0, dtype), 5000, readonly(y), readonly(sw), theta, LOSSES[loss], 0.0, CHUNK_ROWS, total)
    np.testing.assert_allclose(total, full_pass(X, y, theta, LOSSES[loss], sw), rtol=1e-12)


def test_group_shuffles_are_uniform_permutations_independent_of_how_groups_are_read():
    from fastgd.kernels.permute import shuffle_groups

    order = np.arange(1000, dtype=np.int64)
    bounds = np.array([300, 301, 700, 1000], np.int64)
    whole = order.copy()
    shuffle_groups(whole, bounds, 12345, 0)
    start = 0
    for stop in bounds:
        part = order[start:stop].copy()
        shuffle_groups(part, np.array([stop - start], np.int64), 12345, start)
        np.testing.assert_array_equal(part, whole[start:stop])
        assert sorted(part) == list(range(start, stop))
        start = stop
    counts = {}
    for seed in range(6000):
        triple = np.arange(3, dtype=np.int64)
        shuffle_groups(triple, np.array([3], np.int64), seed, 0)
        counts[tuple(triple)] = counts.get(tuple(triple), 0) + 1
    assert len(counts) == 6 and all(abs(c - 1000) < 4 * 29 for c in counts.values())


def test_exact_shuffle_permutations_are_uniform_across_buckets():
    from fastgd.kernels.permute import BUCKET_ROWS, bucket_bits, permutation

    def draw(n, seed):
        out = np.full(n, -1, np.int64)
        permutation(seed, seed + 99, out, bucket_bits(n))
        return out

    for n in (0, 1, 2, 7, BUCKET_ROWS, BUCKET_ROWS + 1, 5 * BUCKET_ROWS + 3):
        assert sorted(draw(n, 5)) == list(range(n))
    assert bucket_bits(5 * BUCKET_ROWS + 3) == 3  # eight buckets
    np.testing.assert_array_equal(draw(10_000, 3), draw(10_000, 3))
    assert not np.array_equal(draw(10_000, 3), draw(10_000, 4))
    # One bucket: all 24 orders of four rows, equally often.
    counts = {}
    for seed in range(24_000):
        key = tuple(draw(4, seed))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24 and all(abs(c - 1000) < 4 * 31 for c in counts.values())
    # Eight buckets: where the first and the last row land, by tenths of the
    # order, and which of them comes first (chi-square at p = 1e-4 for 9 and 1
    # degrees of freedom).
    n, draws = 5 * BUCKET_ROWS + 3, 3000
    first, last, before = np.zeros(10), np.zeros(10), 0
    for seed in range(draws):
        where = np.argsort(draw(n, seed))
        first[where[0] * 10 // n] += 1
        last[where[n - 1] * 10 // n] += 1
        before += where[0] < where[n - 1]
    expected = draws / 10
    assert ((first - expected) ** 2 / expected).sum() < 33.7
    assert ((last - expected) ** 2 / expected).sum() < 33.7
    assert (before - draws / 2) ** 2 / (draws / 4) < 15.1


@pytest.mark.parametrize("direction", ["to_raw", "from_raw"])
def test_coordinate_maps_do_not_depend_on_where_their_output_sits(direction):
    # A loop that stores into its output while it sums is vectorized behind a
    # runtime check that the output does not overlap the input; an output
    # allocated just past the input (as malloc sometimes places it) took the
    # scalar loop, which under ``reassoc`` sums in another order: fits then
    # differed in the last bits from run to run.
    convert = getattr(space, direction)
    rng = np.random.default_rng(0)
    for d in range(1, 33):
        P = d + 1
        given, mean, scale = rng.standard_normal(P), rng.standard_normal(d), rng.uniform(0.5, 2.0, d)
        apart = np.empty(P)
        convert(given, mean, scale, 1, apart)
        for gap in range(20):
            buf = np.zeros(2 * P + gap)
            source, out = buf[:P], buf[P + gap : 2 * P + gap]
            source[:] = given
            convert(source, mean, scale, 1, out)
            assert np.array_equal(out, apart), (d, gap)
