"""Small dense linear algebra on one BLAS thread.

OpenBLAS shares even a 100 x 100 eigendecomposition between its threads,
which then wait for each other at every step. On the shared 2-core VM, with
another process busy, ``np.linalg.eigh`` took 51 ms at d = 64 and 182 ms at
d = 128 against 0.6 ms and 2.4 ms on one thread, and 4.0 s against 50 ms at
d = 512 (Cholesky: 381 ms against 4 ms). From d = 1024 the threads pay
again (eigh at 2048: 1.14 s against 1.87 s). threadpoolctl, which
scikit-learn depends on for the same job, limits them for the call.

The limit is the process's: concurrent calls share it, and the first to
enter sets it and the last to leave restores it.
"""

import threading
from contextlib import contextmanager

#: Matrix widths up to which BLAS runs on one thread.
ONE_THREAD_WIDTH = 1024

_lock = threading.Lock()
_state = {"depth": 0, "limiter": None, "controller": None}


@contextmanager
def one_thread(width):
    """Run the body with BLAS on one thread when its matrices are ``width`` wide or less."""
    if width > ONE_THREAD_WIDTH:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _state["limiter"] = _controller().limit(limits=1, user_api="blas")
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _state["limiter"].restore_original_limits()
                _state["limiter"] = None


def _controller():
    """threadpoolctl's view of the BLAS libraries loaded (numpy's and scipy's), made once."""
    if _state["controller"] is None:
        import scipy.linalg  # noqa: F401  loads scipy's BLAS, so that the controller sees it
        from threadpoolctl import ThreadpoolController

        _state["controller"] = ThreadpoolController()
    return _state["controller"]
