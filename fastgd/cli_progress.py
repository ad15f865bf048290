"""What ``fastgd fit`` shows while it works: one status line, warnings above it.

On a terminal the status line is rewritten in place: the setup time until the
first epoch ends, then per epoch the objective to ten digits, its relative
change, rows per second and the time so far. Elsewhere (a pipe, a log file)
nothing but warnings and the summary is printed. Warnings print as one line,
``fastgd: warning: ...``, above the status line. Written here rather than with
tqdm: a bar needs a total, and a fit's epoch count is not known in advance.
"""

import contextlib
import sys
import threading
import time
import warnings

#: Seconds between redraws of the setup line.
TICK = 0.25


class StatusLine:
    """One line of stderr rewritten in place (on a terminal only); thread-safe."""

    def __init__(self, stream=None, enabled=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._text = ""

    def show(self, text, unless=None):
        """Replace the line with ``text`` (unless the event ``unless`` is set by then)."""
        if not self.enabled:
            return
        with self._lock:
            if unless is not None and unless.is_set():
                return
            self._text = text
            self._write("\r\x1b[K" + text)

    def above(self, text):
        """Print ``text`` as a line of its own above the status line (which is redrawn)."""
        with self._lock:
            if self.enabled and self._text:
                self._write("\r\x1b[K" + text + "\n" + self._text)
            else:
                self._write(text + "\n")

    def finish(self):
        """Leave the last status on screen and move below it."""
        with self._lock:
            if self.enabled and self._text:
                self._write("\n")
            self._text = ""

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


@contextlib.contextmanager
def one_line_warnings(status):
    """Show warnings as ``fastgd: warning: <message>`` through ``status``."""

    def show(message, category, filename, lineno, file=None, line=None):
        status.above(f"fastgd: warning: {' '.join(str(message).split())}")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class Progress:
    """A fit callback that draws the status line; Ctrl-C asks it to stop after the epoch."""

    def __init__(self, status, n_rows, description):
        self.status = status
        self.n_rows = n_rows
        self.stop = False
        self._start = self._clock = time.perf_counter()
        self._previous = None
        self._setup = description
        self._ticker = threading.Event()
        if status.enabled:
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self):
        while not self._ticker.wait(TICK):
            self.status.show(f"{self._setup}: setting up (reading, column statistics, step size) "
                             f"{time.perf_counter() - self._start:.1f} s", unless=self._ticker)

    def __call__(self, epoch, objective, coef):
        self._ticker.set()
        now = time.perf_counter()
        elapsed, self._clock = now - self._clock, now
        # The first epoch's time includes the setup: no rate, no change yet.
        change = rate = ""
        if self._previous is not None:
            if self._previous != 0:
                change = f"  change {(objective - self._previous) / abs(self._previous):+.2e}"
            rate = f"  {_rate(self.n_rows / max(elapsed, 1e-9))} rows/s"
        self._previous = objective
        self.status.show(f"epoch {epoch}  objective {objective:.10g}{change}{rate}  {now - self._start:.1f} s")
        return self.stop

    def interrupt(self, signum, frame):
        if self.stop:  # a second Ctrl-C: stop at once, mid-epoch
            raise KeyboardInterrupt
        self.stop = True
        self.status.above("fastgd: stopping after this epoch (Ctrl-C again to stop now)")

    def close(self):
        self._ticker.set()
        self.status.finish()

    @property
    def seconds(self):
        return time.perf_counter() - self._start


def _rate(value):
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"
