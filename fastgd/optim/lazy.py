"""Closed forms for the steps a parameter sits out: lazy updates on sparse rows.

A mini-batch touches only the features in its rows. On the other features a
step is the penalty's proximal operator alone, ``v <- soft(v, a) / (1 + b)``
with ``a = size * l1w`` and ``b = size * l2w``, so ``k`` such steps in a row
have a closed form: with ``c = 1 / (1 + b)``,

    |v_k| = max(0, c**k |v_0| - a * (c + c**2 + ... + c**k))

(the map never changes the sign, and once at zero a parameter stays there).
:func:`idle_steps` applies ``k`` steps at once, in O(1), and the running
average of averaged SGD follows from the sum of the iterates, also in closed
form: ``(s - s0) * avg_s`` is the sum of the iterates since averaging started.
Written with ``expm1`` and ``log1p``, so that a tiny ``b`` (weak L2, or none)
loses nothing to cancellation; the result equals ``k`` eager steps to rounding.
"""

import math

from numba import njit

from .._config import JIT

#: Below this ``x * m`` the sum of :func:`_ramp` uses its series: the closed
#: form would cancel.
_SERIES = 1e-3


@njit(**JIT)
def _ramp(i, x):
    """``(1 - exp(-i x)) / x``, and ``i`` at ``x == 0``."""
    if x == 0.0:
        return float(i)
    return -math.expm1(-i * x) / x


@njit(**JIT)
def _ramp_sum(m, x):
    """``sum(_ramp(i, x) for i in 1..m)``."""
    mf = float(m)
    s1 = mf * (mf + 1.0) / 2.0
    if x * mf < _SERIES:
        s2 = s1 * (2.0 * mf + 1.0) / 3.0
        s3 = s1 * s1
        s4 = s2 * (3.0 * mf * mf + 3.0 * mf - 1.0) / 5.0
        return s1 - x * s2 / 2.0 + x * x * s3 / 6.0 - x * x * x * s4 / 24.0
    return (mf + math.expm1(-mf * x) / math.expm1(x)) / x


@njit(**JIT)
def _level(i, v, x, rho, a):
    """``c**i v - a (c + ... + c**i)`` for ``v >= 0``: the iterate before clipping at 0."""
    return math.exp(-i * x) * v - a * rho * _ramp(i, x)


@njit(**JIT)
def _positive_steps(v, k, x, rho, a):
    """How many of the first ``k`` iterates are still above 0 (``v > 0``)."""
    if a == 0.0:
        return k
    cross = math.log1p(v * x / (a * rho)) / x if x > 0.0 else v / a
    n = min(k, max(0, int(math.ceil(cross)) - 1))
    # The closed form's own rounding decides the boundary, so that the value
    # reported and the count agree.
    while n < k and _level(n + 1, v, x, rho, a) > 0.0:
        n += 1
    while n > 0 and _level(n, v, x, rho, a) <= 0.0:
        n -= 1
    return n


@njit(**JIT)
def idle_steps(v, k, b, x, a, with_sum):
    """``(v_k, v_1 + ... + v_k)``: ``k`` proximal steps from ``v``, with
    ``b = size * l2w``, ``x = log1p(b)`` and ``a = size * l1w``.

    The sum is computed only ``with_sum`` (else 0). Scalars only: arrays
    passed to a compiled helper cost a reference count each, which at one
    call per nonzero was most of an epoch.
    """
    if k <= 0 or v == 0.0:
        return v, 0.0
    if a == 0.0 and b == 0.0:
        return v, k * v
    rho = x / b if b > 0.0 else 1.0
    if a == 0.0:
        return math.exp(-k * x) * v, v * rho * _ramp(k, x) if with_sum else 0.0
    sign = 1.0 if v > 0.0 else -1.0
    magnitude = abs(v)
    last = _level(k, magnitude, x, rho, a)
    if last > 0.0 and not with_sum:
        return sign * last, 0.0
    n = k if last > 0.0 else _positive_steps(magnitude, k, x, rho, a)
    if n < k:
        last = 0.0
    total = magnitude * rho * _ramp(n, x) - a * rho * _ramp_sum(n, x) if with_sum else 0.0
    return sign * last, sign * total


@njit(**JIT)
def caught_up(v, average, last, k, b, x, a, average_start):
    """``(theta, average)`` of a parameter after the ``k`` steps after step
    ``last`` that it sat out; the running average of averaged SGD (pass
    ``average_start = inf`` otherwise) follows for the steps after
    ``average_start``."""
    if math.isinf(average_start):
        return idle_steps(v, k, b, x, a, False)[0], average
    before = min(k, max(0, int(average_start) - last))
    v = idle_steps(v, before, b, x, a, False)[0]
    if k - before == 0:
        return v, average
    v, total = idle_steps(v, k - before, b, x, a, True)
    counted = last + before - average_start  # averaged steps up to where this run starts
    if counted <= 0.0:
        return v, total / (k - before)
    return v, (average * counted + total) / (last + k - average_start)
