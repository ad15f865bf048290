"""Software prefetch for gathered rows, as an LLVM intrinsic Numba lacks.

A shuffled epoch reads rows in random order, which the hardware prefetcher
cannot predict: every row, and its target, would cost a full memory latency.
Requesting them a few rows ahead overlaps those latencies, which is most of
the gap between a random gather and a sequential read.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import JIT

#: Rows ahead of the current one whose cache lines are requested.
DISTANCE = 8


def _emit_prefetch(context, builder, array_type, array, indices):
    data = context.make_array(array_type)(context, builder, array)
    pointer = cgutils.get_item_pointer(
        context, builder, array_type, data, indices, wraparound=False, boundscheck=False
    )
    address = builder.bitcast(pointer, ir.IntType(8).as_pointer())
    i32 = ir.IntType(32)
    hint = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32]), "llvm.prefetch.p0"
    )
    # read, keep in every cache level, data cache
    builder.call(hint, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
    return context.get_dummy_value()


@intrinsic
def _prefetch_2d(typingctx, array, i, j):
    """Hint the cache line holding ``array[i, j]``."""

    def codegen(context, builder, sig, args):
        return _emit_prefetch(context, builder, sig.args[0], args[0], [args[1], args[2]])

    return types.void(array, i, j), codegen


@intrinsic
def _prefetch_1d(typingctx, array, i):
    """Hint the cache line holding ``array[i]``."""

    def codegen(context, builder, sig, args):
        return _emit_prefetch(context, builder, sig.args[0], args[0], [args[1]])

    return types.void(array, i), codegen


@njit(inline="always", **JIT)
def prefetch_row(X, y, sw, i):
    """Request every cache line of row ``i`` of the C-contiguous ``X``, and its target and weight."""
    step = 64 // X.itemsize
    for j in range(0, X.shape[1], step):
        _prefetch_2d(X, i, j)
    _prefetch_1d(y, i)
    if sw.shape[0] > 0:
        _prefetch_1d(sw, i)
