"""Threads: which layer runs the parallel kernels, how many threads, and when.

- **The layer.** Numba's threading layers differ: GNU OpenMP (``omp``, the
  one a pip-installed Numba finds) kills or hangs a process forked after the
  parent ran a parallel region, and ``workqueue`` aborts the process when two
  Python threads run parallel code at once. Intel TBB (``tbb``) is safe for
  both, which data pipelines need (multiprocessing and joblib workers, thread
  pools), so fastgd depends on the ``tbb`` package and asks Numba for it
  (:func:`choose_layer`) unless the user chose a layer
  (``NUMBA_THREADING_LAYER``) or a parallel region already ran. pip installs
  ``libtbb`` where Numba's loader does not look, so it is loaded first.
  Where TBB is missing (no wheel for the platform), fastgd stays safe on
  the layer Numba picks: a process forked from one that used OpenMP runs
  fastgd's kernels serially, and calls into ``workqueue`` are serialized.
- **How many.** Every fit runs with at most :func:`thread_limit` threads:
  Numba's own setting (``numba.set_num_threads``, ``NUMBA_NUM_THREADS``),
  lowered by ``OMP_NUM_THREADS`` where it is set when fastgd is imported, as
  joblib, loky and Dask set it for their workers so that ``n_jobs`` processes
  do not oversubscribe the cores (Numba itself ignores ``OMP_NUM_THREADS``).
  Like OpenMP runtimes, fastgd reads it once: Dask's ``LocalCluster`` sets it
  in the client process too, after the fact, for the workers it spawns.
- **When.** Work too small to pay for waking threads runs on the calling
  thread (:func:`kernel`); each parallel kernel has a serial twin that gives
  the same bits.
- **Without a layer.** Dense full-batch passes (:mod:`fastgd.kernels.fused`),
  mini-batch epochs (:mod:`fastgd.optim.threaded_epoch`), the Gram pass
  (:mod:`fastgd.kernels.gram`) and the column statistics
  (:mod:`fastgd.kernels.stats`) run on Python threads of fastgd's own
  (:func:`share`), each in one compiled call that releases the GIL, as many
  as :func:`count` allows: no threading layer is involved, and their kernels
  compile as fast as serial ones (a parallel region took a cold first fit
  about 1 s longer). Helper threads wait between calls, so that a call
  wakes them instead of starting them; a forked child starts its own.
"""

import atexit
import contextlib
import ctypes
import os
import threading
from importlib import metadata

import numba
import numpy as np
from numba.np.ufunc import parallel

#: Elements (rows x parameters) below which a pass runs on the calling thread:
#: about 50 microseconds of work, many times what waking threads costs on a
#: loaded machine.
PARALLEL_WORK = 1 << 17

_chosen = False
#: Set in a child forked from a process that ran OpenMP parallel regions.
_serial_only = False
#: Serializes parallel calls under ``workqueue``, which is not thread-safe.
_workqueue_lock = threading.Lock()


#: Layer settings under which Numba may pick TBB, if it can load it.
_MAY_USE_TBB = ("default", "tbb", "safe", "threadsafe", "forksafe")


def choose_layer():
    """Ask Numba for the TBB layer, unless the user chose one or it is too late.

    Whatever the user chose, ``libtbb`` is loaded when that choice may be TBB,
    since Numba cannot find pip's copy by itself.
    """
    global _chosen
    if parallel._is_initialized:
        return
    requested = os.environ.get("NUMBA_THREADING_LAYER", "").strip().lower() or None
    if str(requested or numba.config.THREADING_LAYER).lower() not in _MAY_USE_TBB:
        return
    if not _chosen:
        if not _load_tbb():
            return
        _chosen = True
    # Numba reloads its configuration when a NUMBA_* variable changes, which
    # resets the layer: this runs again before fastgd's first parallel call.
    if requested is None and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "tbb"


def _load_tbb():
    """Load the ``tbb`` package's ``libtbb`` and check its version; False if unusable."""
    try:
        files = metadata.distribution("tbb").files or ()
    except metadata.PackageNotFoundError:
        files = ()
    for file in files:
        if file.name.startswith("libtbb.so") and file.name.count(".") == 2:
            path = os.path.realpath(file.locate())
            if os.path.exists(path):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    continue
                break
    try:
        parallel._check_tbb_version_compatible()
        from numba.np.ufunc import tbbpool  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def _after_fork_in_child():
    global _serial_only
    if parallel._is_initialized and parallel.threading_layer() == "omp":
        _serial_only = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _environment_limit():
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(limit) if limit.isdigit() and int(limit) > 0 else None


#: ``OMP_NUM_THREADS`` as it was when fastgd was imported (None: not set).
ENVIRONMENT_LIMIT = _environment_limit()


def thread_limit():
    """Threads a fit may use: Numba's setting, lowered by ``OMP_NUM_THREADS``."""
    threads = numba.get_num_threads()
    if ENVIRONMENT_LIMIT is not None:
        threads = min(threads, ENVIRONMENT_LIMIT)
    return max(1, threads)


@contextlib.contextmanager
def limited():
    """Run the block with at most :func:`thread_limit` threads (Numba's setting
    is per Python thread, and restored afterwards)."""
    if _serial_only:
        yield
        return
    choose_layer()
    before = numba.get_num_threads()
    numba.set_num_threads(thread_limit())
    try:
        yield
    finally:
        numba.set_num_threads(before)


def kernel(threaded, serial, work):
    """The kernel to call for ``work`` elements: ``threaded`` when threads pay, else ``serial``."""
    if _serial_only or work < PARALLEL_WORK:
        return serial
    choose_layer()
    if numba.get_num_threads() < 2:
        return serial
    if parallel.threading_layer() == "workqueue":
        return _locked(threaded)
    return threaded


def count(work, least):
    """Threads for ``work`` elements shared by fastgd's own Python threads
    (no threading layer involved): 1 below ``least`` elements, where threads do not pay."""
    return 1 if work < least else max(1, numba.get_num_threads())


#: Slots of :attr:`_Helpers.flags`, a cache line apart: the number of the
#: current call, and how many helpers have finished it.
_CALL, _FINISHED = 0, 8
#: Looks (see :func:`fastgd.kernels.waiting.wait_until`) a helper spends
#: watching for the next call before it sleeps: about a millisecond, the
#: time between the passes of a fit, as a threading layer's workers spin.
_WATCH_LOOKS = 1000


class _Helpers:
    """Threads that wait for calls of :func:`share`, one caller at a time.

    After a call a helper watches the call counter for a while without the
    GIL, then sleeps on a condition; the caller watches the finished
    counter. Waking a sleeping thread took 50-100 us here, so the passes of
    a fit, a millisecond or less apart, find their helpers awake.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.wake = threading.Condition()
        self.finish = threading.Lock()
        self.flags = np.zeros(16, np.int64)
        self.call = 0
        self.job = None
        self.threads = []
        self.closing = False

    def run(self, kernel, args, helpers):
        from .kernels.waiting import wait_until

        while len(self.threads) < helpers:
            thread = threading.Thread(target=self._serve, args=(len(self.threads),), daemon=True, name="fastgd-helper")
            thread.start()
            self.threads.append(thread)
        errors = []
        self.flags[_FINISHED] = 0  # every helper of the last call has finished it
        with self.wake:
            self.call += 1
            self.job = (self.call, kernel, args, helpers, errors)
            self.flags[_CALL] = self.call
            self.wake.notify_all()
        try:
            kernel(*args)
        finally:
            # The helpers use ``args`` until they have finished.
            wait_until(self.flags, _FINISHED, helpers, True, -1)
            self.job = None
        if errors:
            raise errors[0]

    def close(self):
        """Call the helpers out of compiled code and let them end: at exit, a
        helper still watching in compiled code could outlive the code itself."""
        with self.lock, self.wake:  # after a call under way; later ones start threads of their own
            self.closing = True
            self.call += 1
            self.flags[_CALL] = self.call
            self.wake.notify_all()
        for thread in self.threads:
            thread.join(timeout=5.0)

    def _serve(self, index):
        from .kernels.waiting import wait_until

        seen = 0
        while True:
            if not wait_until(self.flags, _CALL, seen, False, _WATCH_LOOKS):
                with self.wake:
                    while self.call == seen:
                        self.wake.wait()
            if self.closing:
                return
            job = self.job
            if job is None:  # a call that did not need this helper has ended
                seen = self.call
                continue
            seen, kernel, args, helpers, errors = job
            del job
            if index < helpers:
                try:
                    kernel(*args)
                except BaseException as error:  # raised again in the caller
                    errors.append(error)
                finally:
                    del kernel, args  # nothing of a call stays alive while the thread waits
                    with self.finish:
                        self.flags[_FINISHED] += 1
            else:
                del kernel, args


_helpers = _Helpers()


def _new_helpers_in_child():
    # The parent's helper threads do not exist in a forked child, and its
    # lock may have been held by a thread that does not exist either.
    global _helpers
    _helpers = _Helpers()


os.register_at_fork(after_in_child=_new_helpers_in_child)
atexit.register(lambda: _helpers.close())


def share(kernel, args, threads):
    """Call ``kernel(*args)`` on ``threads`` threads at once (the caller's and
    ``threads - 1`` helpers) and wait for all of them.

    ``kernel`` is compiled with ``nogil`` and shares its work through atomic
    counters in ``args``, so that a thread which starts late finds what is
    left, or nothing. The waiting helpers serve one caller at a time; a call
    made meanwhile from another Python thread starts threads of its own.
    """
    if threads <= 1:
        kernel(*args)
        return
    helpers = _helpers
    if helpers.lock.acquire(blocking=False):
        try:
            if not helpers.closing:
                helpers.run(kernel, args, threads - 1)
                return
        finally:
            helpers.lock.release()
    errors = []

    def helper():
        try:
            kernel(*args)
        except BaseException as error:  # raised again in the caller
            errors.append(error)

    helpers = [threading.Thread(target=helper, daemon=True) for _ in range(threads - 1)]
    for thread in helpers:
        thread.start()
    try:
        kernel(*args)
    finally:
        for thread in helpers:
            thread.join()
    if errors:
        raise errors[0]


def _locked(kernel):
    def call(*args):
        with _workqueue_lock:
            return kernel(*args)

    return call


def layer():
    """The threading layer in use (starting it if needed), for reports."""
    choose_layer()
    numba.get_num_threads()
    return parallel.threading_layer()
