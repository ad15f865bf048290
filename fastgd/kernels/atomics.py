"""Atomic operations on int64 array elements, a spin-wait hint and a yield,
as LLVM instructions and a C call Numba lacks.

The threaded mini-batch epoch (:mod:`fastgd.optim.threaded_epoch`) keeps each
of its threads in one compiled call for a whole epoch and hands them the
chunks of each batch through a few shared counters: a Numba parallel region
per batch measured no faster than one thread. These are the operations it
needs, with the C++ memory orderings named in their docstrings.
"""

import platform
import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _pointer(context, builder, sig, args):
    array_type = sig.args[0]
    data = context.make_array(array_type)(context, builder, args[0])
    return cgutils.get_item_pointer(
        context, builder, array_type, data, [args[1]], wraparound=False, boundscheck=False
    )


def _check(array):
    if not (isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1):
        raise TypeError("atomics take a 1-d int64 array")


def _named(fn, name, doc):
    """``fn`` as the intrinsic ``name`` of this module (its own name, for Numba's registries)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return intrinsic(fn)


def _load(name, ordering, doc):
    def load(typingctx, array, i):
        _check(array)

        def codegen(context, builder, sig, args):
            return builder.load_atomic(_pointer(context, builder, sig, args), ordering, 8)

        return types.int64(array, i), codegen

    return _named(load, name, doc)


def _store(name, ordering, doc):
    def store(typingctx, array, i, value):
        _check(array)

        def codegen(context, builder, sig, args):
            value = context.cast(builder, args[2], sig.args[2], types.int64)
            builder.store_atomic(value, _pointer(context, builder, sig, args), ordering, 8)
            return context.get_dummy_value()

        return types.void(array, i, value), codegen

    return _named(store, name, doc)


load_acquire = _load(
    "load_acquire",
    "acquire",
    """``array[i]``, read with acquire ordering: writes made before the matching
    :func:`store_release` are visible after it.""",
)
load_relaxed = _load("load_relaxed", "monotonic", """``array[i]``, read atomically with no ordering.""")
store_release = _store(
    "store_release", "release", """``array[i] = value`` with release ordering: publishes every earlier write."""
)
store_relaxed = _store("store_relaxed", "monotonic", """``array[i] = value``, written atomically with no ordering.""")


@intrinsic
def fetch_add(typingctx, array, i, value):
    """Add ``value`` to ``array[i]`` (sequentially consistent); returns the old value."""
    _check(array)

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", _pointer(context, builder, sig, args), value, "seq_cst")

    return types.int64(array, i, value), codegen


@intrinsic
def compare_exchange(typingctx, array, i, expected, desired):
    """Set ``array[i]`` to ``desired`` if it holds ``expected`` (sequentially
    consistent); returns whether it did."""
    _check(array)

    def codegen(context, builder, sig, args):
        expected = context.cast(builder, args[2], sig.args[2], types.int64)
        desired = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(_pointer(context, builder, sig, args), expected, desired, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return types.boolean(array, i, expected, desired), codegen


_MACHINE = platform.machine().lower()

#: Give the core to another thread (a C library call, linked by name).
os_yield = types.ExternalFunction("SwitchToThread" if sys.platform == "win32" else "sched_yield", types.intc())


@intrinsic
def spin_pause(typingctx):
    """Tell the core this thread is spinning (x86 ``pause``, Arm ``yield``), so
    it yields resources to its sibling hyperthread and does not flood the bus."""

    def codegen(context, builder, sig, args):
        # Intrinsics, not inline assembly: Numba's LLVM has no assembly parser.
        if _MACHINE in ("x86_64", "amd64", "i686", "x86"):
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(hint, [])
        elif _MACHINE in ("aarch64", "arm64"):
            i32 = ir.IntType(32)
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i32]), "llvm.aarch64.hint"
            )
            builder.call(hint, [ir.Constant(i32, 1)])  # 1: yield
        return context.get_dummy_value()

    return types.void(), codegen
