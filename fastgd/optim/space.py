"""Standardized coordinates: the solver's parameters and the data's units.

With column means ``mean`` and scales ``scale``, the solver works with
``theta`` such that ``x @ w + b == ((x - mean) / scale) @ w_std + b_std``:
``w = w_std / scale`` and ``b = b_std - mean @ w``. The data are never
rescaled; the kernels see ``raw`` parameters and the gradient is mapped back.
Both maps are O(parameters), once per step.
"""

from numba import njit

from .._config import JIT


@njit(inline="always", **JIT)
def to_raw(theta, mean, inv_scale, n_out, raw):
    """Write the data-unit parameters of standardized ``theta`` into ``raw``."""
    d = mean.shape[0]
    for c in range(n_out):
        base = c * (d + 1)
        for j in range(d):
            raw[base + j] = theta[base + j] * inv_scale[j]
        # The sum gets a loop of its own that only reads. A loop that stores
        # into ``raw`` while it sums is vectorized behind a runtime check that
        # ``raw`` does not overlap ``theta``, falling back to the scalar loop
        # when the two lie within a few vectors of each other: with ``reassoc``
        # the two versions add in different orders, so the bits depended on
        # where the allocator had put the arrays. (The same in from_raw.)
        shift = 0.0
        for j in range(d):
            shift += mean[j] * raw[base + j]
        raw[base + d] = theta[base + d] - shift


@njit(inline="always", **JIT)
def from_raw(raw, mean, scale, n_out, theta):
    """Write the standardized parameters of data-unit ``raw`` into ``theta``."""
    d = mean.shape[0]
    for c in range(n_out):
        base = c * (d + 1)
        for j in range(d):
            theta[base + j] = raw[base + j] * scale[j]
        shift = 0.0
        for j in range(d):
            shift += mean[j] * raw[base + j]
        theta[base + d] = raw[base + d] + shift


@njit(inline="always", **JIT)
def gradient_to_standard(g, mean, inv_scale, n_out):
    """Map gradient sums taken in data units to standardized ones, in place."""
    d = mean.shape[0]
    for c in range(n_out):
        base = c * (d + 1)
        gb = g[base + d]
        for j in range(d):
            g[base + j] = (g[base + j] - mean[j] * gb) * inv_scale[j]
