"""svmlight / libsvm text files, converted once into a memory-mapped CSR store.

``open_dataset("train.svm")`` (suffixes ``.svm``, ``.svmlight``, ``.libsvm``,
each also with ``.gz`` or ``.bz2``) converts the file into a
:mod:`CSR store <fastgd.data.csr_store>` the first time, then opens the store:
memory-mapped, never read whole. Later opens reuse the store as long as the
file keeps the size and modification time recorded in it (and the options it
was converted with); otherwise it is converted again. Use
:func:`open_svmlight` for the options (``zero_based``, ``n_features``,
``dtype``, ``cache_dir``).

Format
------
One row a line::

    label [qid:N] index:value index:value ... [# comment]

- ``label`` is a number (``1``, ``-1``, ``+1``, ``0.5``, ``2e3``): the target.
- ``qid:N`` (an integer, right after the label) is accepted and ignored.
- ``index`` is a non-negative integer; ``value`` a finite number. Pairs may
  come in any order and an index may repeat within a line: they are stored
  as written, and repeated indices add up (as in scipy and the kernels).
  scikit-learn's reader refuses both.
- Tokens are separated by spaces or tabs; ``\\r\\n`` line ends are fine.
  ``#`` starts a comment up to the end of the line; blank lines and comment
  lines are skipped. A line with a label only is a row of zeros.
- Indices are 1-based by default (the libsvm convention), or 0-based:
  ``zero_based`` is ``"auto"`` (the default, as in scikit-learn's
  ``load_svmlight_file``: the file is 0-based if any index 0 appears in it,
  else 1-based), ``False`` (1-based: an index 0 is an error) or ``True``.
  "auto" is decided over the whole file: indices are stored shifted by one
  while parsing, and shifted back in one streaming pass at the end if a 0
  turned up.
- ``n_features`` is the largest index + 1 (after the shift) unless given.

Bad input raises a ValueError naming the file, the 1-based line number and
what is wrong, e.g. ``train.svm, line 17: 'abc:1' is not index:value``.

Conversion
----------
One streaming pass: the (decompressed) text is read in chunks of
:data:`CHUNK_BYTES`; complete lines are parsed into bounded buffers and their
arrays appended to the store's ``.npy`` files, so memory stays at a few
times the chunk size whatever the file size (a single line longer than a
chunk grows the buffer to hold it). Values are parsed as float64 (rounded
to float32 once for ``dtype=float32``), labels as float64. Indices and
``indptr`` are written as int32 while they fit and widened to int64 (one
streaming rewrite) when they stop fitting. gzip and bzip2 files are
decompressed a few chunks ahead in a thread, beside the parser.

The parser is compiled with Numba over byte buffers: scikit-learn's parser
is not a runtime dependency of fastgd, loads the whole file into memory and
reports no line numbers. Numbers are converted exactly (correctly rounded,
the same bits as Python's ``float``) with the Eisel-Lemire algorithm; the
rare numbers it cannot settle (more than 19 significant digits, near a tie)
are handed to Python's ``float``.

Cache location
--------------
The store of ``dir/train.svm`` lives:

1. in ``cache_dir`` when it is given to :func:`open_svmlight`, or else in the
   directory named by the environment variable ``FASTGD_CACHE_DIR`` when it
   is set, as ``train.svm-<hash>.fastgd-csr`` (``<hash>``: 16 hex digits of
   the file's absolute path, so files of the same name never collide);
2. otherwise next to the file, as ``dir/train.svm.fastgd-csr``, when ``dir``
   is writable; and when it is not, in ``$XDG_CACHE_HOME/fastgd`` (by default
   ``~/.cache/fastgd``), named as in 1. An up-to-date store in either place
   is reused.

A store is written into a temporary directory beside its final place,
flushed to disk, and renamed into place when complete, so an interrupted
conversion never leaves a store that looks valid (a leftover ``*.tmp-*``
directory is never read and may be deleted). Delete a store to force a
conversion; a file rewritten with the same size within the same mtime tick
is not noticed.
"""

import bz2
import gzip
import hashlib
import os
import queue
import shutil
import struct
import tempfile
import threading
from pathlib import Path

import numpy as np
from numba import njit

from .._config import JIT
from . import csr_store

#: Suffixes :func:`~fastgd.open_dataset` reads as svmlight (also followed by .gz or .bz2).
SUFFIXES = (".svm", ".svmlight", ".libsvm")
#: Bytes of text read and parsed at a time.
CHUNK_BYTES = 1 << 22
#: Largest index or ``indptr`` entry kept as int32 (a variable for the tests).
INT32_LIMIT = np.iinfo(np.int32).max
#: The suffix of a store converted from a text file.
STORE_SUFFIX = ".fastgd-csr"
#: The environment variable of a directory for every store (see the module docstring).
CACHE_ENV = "FASTGD_CACHE_DIR"

#: Part of a converted store's meta.json that must match to reuse it.
_CONVERTER = 1


def is_svmlight_path(path):
    """Whether ``path`` ends in an svmlight suffix, possibly followed by .gz or .bz2."""
    name = Path(path).name.lower()
    for compressed in ("", ".gz", ".bz2"):
        if any(name.endswith(suffix + compressed) for suffix in SUFFIXES):
            return True
    return False


def open_svmlight(path, target=None, features=None, weight=None, zero_based="auto", n_features=None,
                  dtype=np.float64, cache_dir=None):
    """A :class:`~fastgd.data.dataset.Dataset` of an svmlight / libsvm file, through its CSR store.

    Parameters
    ----------
    path : str or path
        The text file, plain or compressed with gzip or bzip2.
    target : None, "y", array or .npy path
        None or "y": the labels of the file. An array replaces them.
    weight : None, array or .npy path
        Sample weights (the format has none).
    zero_based : "auto", bool
        Whether indices count from 0; "auto": if any index 0 appears.
    n_features : int, optional
        At least the largest index + 1; by default exactly that.
    dtype : float64 or float32
        The dtype of the stored values.
    cache_dir : str or path, optional
        Where to keep the store (see the module docstring).
    """
    store = cached_store(path, zero_based, n_features, dtype, cache_dir)
    return csr_store.open_store(store, target, features, weight, description=f"svmlight file '{path}'")


def load_svmlight(path, zero_based="auto", n_features=None, dtype=np.float64, cache_dir=None):
    """``(X, y)``: the memory-mapped CSR matrix and labels of an svmlight file (through its store)."""
    X, y, _ = csr_store.load_csr(cached_store(path, zero_based, n_features, dtype, cache_dir))
    return X, y


def cached_store(path, zero_based="auto", n_features=None, dtype=np.float64, cache_dir=None):
    """The path of the up-to-date CSR store of ``path``, converting the file if needed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: '{path}'")
    options = _options(zero_based, n_features, dtype)
    stat = path.stat()
    wanted = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "options": options}
    cache_dir = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV) or None
    if cache_dir is not None:
        places = [_named_in(cache_dir, path)]
    else:
        places = [path.with_name(path.name + STORE_SUFFIX), _named_in(_user_cache(), path)]
    for place in places:
        if _up_to_date(place, wanted):
            return place
    failures = []
    for place in places:
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=place.name + ".tmp-", dir=place.parent))
        except OSError as error:  # not writable: the next place
            failures.append(f"'{place.parent}': {error}")
            continue
        try:
            convert_svmlight(path, work, zero_based, n_features, dtype, _replace=True, _source=wanted)
            _move_into_place(work, place, wanted)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return place
    raise OSError(f"cannot write the CSR store of '{path}' in {' or '.join(failures)}; set {CACHE_ENV} or pass cache_dir")


def _options(zero_based, n_features, dtype):
    if not (isinstance(zero_based, str) and zero_based == "auto" or isinstance(zero_based, (bool, np.bool_))):
        raise ValueError(f"zero_based must be 'auto', True or False, got {zero_based!r}")
    if n_features is not None and (not isinstance(n_features, (int, np.integer)) or n_features < 1):
        raise ValueError(f"n_features must be a positive integer or None, got {n_features!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return {
        "zero_based": zero_based if zero_based == "auto" else bool(zero_based),
        "n_features": None if n_features is None else int(n_features),
        "dtype": str(dtype),
        "converter": _CONVERTER,
    }


def _named_in(directory, path):
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return Path(directory) / f"{path.name}-{digest}{STORE_SUFFIX}"


def _user_cache():
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastgd"


def _up_to_date(place, wanted):
    try:
        meta = csr_store.read_meta(place)
    except (OSError, ValueError):
        return False
    return meta.get("source") == wanted


def _move_into_place(work, place, wanted):
    """Rename the finished store ``work`` to ``place``, replacing an old one
    (unless another process has just put the same one there)."""
    try:
        os.rename(work, place)
        return
    except OSError:
        if not place.exists():
            raise
    if _up_to_date(place, wanted):
        return
    old = Path(tempfile.mkdtemp(prefix=place.name + ".old-", dir=place.parent))
    os.rename(place, old / "store")  # a store being read elsewhere stays mapped
    try:
        os.rename(work, place)
    finally:
        shutil.rmtree(old, ignore_errors=True)


# -- conversion ---------------------------------------------------------------


def convert_svmlight(path, out, zero_based="auto", n_features=None, dtype=np.float64, chunk_bytes=None,
                     _replace=False, _source=None):
    """Convert the svmlight file ``path`` into a CSR store in the new directory
    ``out``, streaming (see the module docstring); return ``out``.

    The store's ``meta.json`` is written last: a directory without it is no
    store. ``chunk_bytes``: text parsed at a time (default :data:`CHUNK_BYTES`).
    :func:`open_svmlight` converts into a temporary directory and
    renames it; call this directly to keep a store somewhere of your choosing.
    """
    path, out = Path(path), Path(out)
    options = _options(zero_based, n_features, dtype)
    zero_based, dtype = options["zero_based"], np.dtype(dtype)
    if not _replace:
        out.mkdir(parents=True)
    parser = _Parser(path, out, zero_based, dtype, chunk_bytes or CHUNK_BYTES)
    try:
        with _open_text(path) as stream:
            if isinstance(stream, (gzip.GzipFile, bz2.BZ2File)):
                stream = _ReadAhead(stream, parser.size)
            try:
                parser.run(stream)
            finally:
                stream.close()
        meta = parser.finish(n_features)
    finally:
        parser.close()
    source = _source
    if source is None:
        stat = path.stat()
        source = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                  "options": options}
    csr_store.write_meta(out, *meta, source=source)
    return out


def _open_text(path):
    with open(path, "rb") as f:
        head = f.read(3)
    if head[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if head == b"BZh":
        return bz2.open(path, "rb")
    return open(path, "rb", buffering=0)


class _ReadAhead:
    """A compressed stream decompressed ahead in a thread (zlib and bz2 release
    the GIL, as does the compiled parser), at most a few chunks ahead."""

    def __init__(self, stream, size, depth=2):
        self.stream, self.size = stream, size
        self.queue = queue.Queue(depth)
        self.stopping = threading.Event()
        self.pending = memoryview(b"")
        self.thread = threading.Thread(target=self._read, name="fastgd-svmlight-reader", daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while not self.stopping.is_set():
                block = self.stream.read(self.size)
                self.queue.put(block)
                if not block:
                    return
        except BaseException as error:  # raised again in the reading thread
            self.queue.put(error)

    def readinto(self, view):
        if not len(self.pending):
            item = self.queue.get()
            if isinstance(item, BaseException):
                raise item
            self.pending = memoryview(item)
        n = min(len(view), len(self.pending))
        view[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self):
        self.stopping.set()
        while self.thread.is_alive():  # unblock a put into a full queue
            try:
                self.queue.get_nowait()
            except queue.Empty:
                pass
            self.thread.join(0.01)
        self.stream.close()


class _Column:
    """A 1-D ``.npy`` file written by appending, its header filled in at the end."""

    HEADER = 128

    def __init__(self, path, dtype):
        self.path, self.dtype, self.count = path, np.dtype(dtype), 0
        self.file = open(path, "wb")
        self.file.write(b"\0" * self.HEADER)

    def append(self, values):
        values = np.ascontiguousarray(values, dtype=self.dtype)  # a chunk: bounded
        self.file.write(memoryview(values).cast("B"))
        self.count += values.shape[0]

    def widen(self, dtype, step=1 << 20):
        """Rewrite what was written as ``dtype`` (int32 -> int64), a step at a time."""
        self.file.close()
        wider = _Column(self.path.with_suffix(".wide"), dtype)
        with open(self.path, "rb") as f:
            f.seek(self.HEADER)
            while True:
                part = np.fromfile(f, dtype=self.dtype, count=step)
                if not part.shape[0]:
                    break
                wider.append(part)
        wider.file.close()
        os.replace(wider.path, self.path)
        self.dtype = np.dtype(dtype)
        self.file = open(self.path, "ab")

    def close(self):
        """Finish the file: its header, now that the length is known."""
        self.file.close()
        with open(self.path, "r+b") as f:
            f.write(_npy_header(self.dtype, self.count, self.HEADER))
            f.flush()
            os.fsync(f.fileno())  # on disk before the store is renamed into place

    def discard(self):
        if not self.file.closed:
            self.file.close()


def _npy_header(dtype, count, size):
    """A version 1.0 ``.npy`` header of exactly ``size`` bytes for a 1-D array."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': (%d,), }" % (np.lib.format.dtype_to_descr(dtype), count)
    body = text.encode("latin1")
    pad = size - 10 - len(body) - 1
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", size - 10) + body + b" " * pad + b"\n"


class _Parser:
    """The conversion loop: text chunks in, ``.npy`` columns out."""

    def __init__(self, path, out, zero_based, dtype, chunk_bytes):
        self.path, self.out, self.dtype = path, out, dtype
        self.zero_based = zero_based
        self.shift = 0 if zero_based is True else 1
        self.size = max(int(chunk_bytes), 64)
        self.columns = {}
        self.columns["data"] = _Column(out / "data.npy", dtype)
        self.columns["indices"] = _Column(out / "indices.npy", np.int32)
        self.columns["indptr"] = _Column(out / "indptr.npy", np.int32)
        self.columns["y"] = _Column(out / "y.npy", np.float64)
        self.columns["indptr"].append(np.zeros(1, np.int32))
        self.info = np.zeros(_INFO_SIZE, np.int64)
        self.info[_MAX_RAW] = -1
        self.lines = 0
        self.nnz = 0
        self.rows = 0
        self._outputs(self.size)

    def _outputs(self, size):
        self.labels = np.empty(size // 32 + 16, np.uint64)
        self.ends = np.empty(self.labels.shape[0], np.int64)
        self.indices = np.empty(size // 8 + 16, np.int64)
        self.values = np.empty(self.indices.shape[0], np.uint64)
        self.fallback = np.empty((64, 5), np.int64)

    def run(self, stream):
        raw = bytearray(self.size)
        filled = 0
        final = False
        start = None
        while not final:
            view = memoryview(raw)
            while filled < len(raw):
                got = stream.readinto(view[filled:])
                if not got:
                    final = True
                    break
                filled += got
            view.release()
            if start is None:
                start = 3 if raw[:3] == b"\xef\xbb\xbf" else 0  # a UTF-8 byte order mark
            stop = filled if final else raw.rfind(b"\n", 0, filled) + 1
            if stop <= start and not final:  # one line longer than the buffer: grow it
                raw = raw + bytearray(len(raw))
                self._outputs(len(raw))
                continue
            buf = np.frombuffer(raw, np.uint8)
            self._parse(buf, start, stop)
            del buf
            start = 0
            rest = filled - stop
            raw[:rest] = raw[stop:filled]
            filled = rest

    def _parse(self, buf, start, stop):
        info = self.info
        pos = start
        while True:
            status = _parse_lines(buf, pos, stop, self.shift, self.zero_based == "auto", self._limit_bits(),
                                  self.nnz, self.lines, self.labels, self.ends, self.indices, self.values,
                                  self.fallback, info)
            if status >= _ERROR:
                raise self._error(buf, status)
            rows, nnz = int(info[_ROWS]), int(info[_NNZ])
            if info[_FALLBACKS]:
                self._settle(buf)
            self._write(rows, nnz)
            self.lines = int(info[_LINES])
            progress = info[_CONSUMED] > pos
            pos = int(info[_CONSUMED])
            if status == _NEED_MORE:
                return
            if not progress:  # one line holds more pairs than the buffers: grow them
                self.indices = np.empty(self.indices.shape[0] * 2, np.int64)
                self.values = np.empty(self.indices.shape[0], np.uint64)
                self.fallback = np.empty((self.fallback.shape[0] * 2, 5), np.int64)

    def _limit_bits(self):
        if self.dtype == np.float32:  # the smallest double that rounds to inf as float32
            return np.float64(2.0**128 - 2.0**103).view(np.uint64)
        return np.float64(np.inf).view(np.uint64)

    def _settle(self, buf):
        """Numbers the compiled parser left to Python's float (too many digits, near a tie)."""
        for kind, where, start, stop, line in self.fallback[: int(self.info[_FALLBACKS])]:
            token = bytes(buf[start:stop])
            value = float(token)
            what = "label" if kind == 1 else "value"
            if not np.isfinite(value):
                raise ValueError(f"{self.path}, line {line}: {what} {_shown(token)} is not finite")
            bits = np.float64(value).view(np.uint64)
            if kind == 1:
                self.labels[where] = bits
            elif bits & _ABS >= self._limit_bits():
                raise ValueError(f"{self.path}, line {line}: value {_shown(token)} is too large for float32")
            else:
                self.values[where] = bits

    def _write(self, rows, nnz):
        columns = self.columns
        if rows:
            columns["y"].append(self.labels[:rows].view(np.float64))
            last_end = int(self.ends[rows - 1])
            if last_end > INT32_LIMIT and columns["indptr"].dtype == np.int32:
                columns["indptr"].widen(np.int64)
            columns["indptr"].append(self.ends[:rows])
        if nnz:
            if self.info[_MAX_RAW] > INT32_LIMIT and columns["indices"].dtype == np.int32:
                columns["indices"].widen(np.int64)
            columns["indices"].append(self.indices[:nnz])
            columns["data"].append(self.values[:nnz].view(np.float64))
        self.rows += rows
        self.nnz += nnz

    def finish(self, n_features):
        """Close the columns; undo the shift of a 0-based "auto" file; check n_features.
        Returns ``(n_rows, n_features, nnz, dtypes)`` for meta.json."""
        info = self.info
        for column in self.columns.values():
            column.close()
        if self.rows == 0:
            raise ValueError(f"{self.path} has no rows: every line is blank or a comment")
        zero_based = self.zero_based is True or (self.zero_based == "auto" and bool(info[_ZERO_SEEN]))
        if self.shift and zero_based and self.nnz:
            indices = np.load(self.out / "indices.npy", mmap_mode="r+")
            step = 1 << 20
            for start in range(0, indices.shape[0], step):
                indices[start : start + step] += 1
            indices.flush()
            del indices
        largest = int(info[_MAX_RAW]) - (0 if zero_based else 1)
        if n_features is None:
            if self.nnz == 0:
                raise ValueError(f"{self.path} has no index:value pair; pass n_features")
            n_features = largest + 1
        elif largest >= n_features:
            raise ValueError(
                f"{self.path}, line {int(info[_MAX_LINE])}: index {int(info[_MAX_RAW])} is beyond n_features="
                f"{n_features} (indices are {'0' if zero_based else '1'}-based)"
            )
        dtypes = {name: str(column.dtype) for name, column in self.columns.items()}
        return self.rows, n_features, self.nnz, dtypes

    def close(self):
        for column in self.columns.values():
            column.discard()

    def _error(self, buf, status):
        info = self.info
        token = bytes(buf[int(info[_ERR_START]) : int(info[_ERR_STOP])])
        where = f"{self.path}, line {int(info[_ERR_LINE])}: "
        shown = _shown(token)
        value = _shown(token.partition(b":")[2])
        messages = {
            _E_NO_LABEL: f"missing label: the line starts with {shown}",
            _E_LABEL: f"label {shown} is not a number",
            _E_LABEL_NONFINITE: f"label {shown} is not finite",
            _E_PAIR: f"{shown} is not index:value",
            _E_ZERO: f"index 0 in {shown}, but indices are 1-based (zero_based=False); use zero_based=True or 'auto'",
            _E_NEGATIVE: f"negative index in {shown}",
            _E_HUGE: f"index in {shown} is too large",
            _E_VALUE: f"value {value} in {shown} is not a number",
            _E_NONFINITE: f"value {value} in {shown} is not finite",
            _E_QID: f"{shown} is not qid:N with N an integer",
            _E_QID_PLACE: f"{shown} must come right after the label",
            _E_FLOAT32: f"value {value} in {shown} is too large for float32",
        }
        return ValueError(where + messages.get(status, f"cannot parse {shown}"))


def _shown(token):
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


# -- the compiled parser ------------------------------------------------------

# Statuses of _parse_lines: go on with more text, call again (buffers full), or an error.
_NEED_MORE, _FULL, _ERROR = 0, 1, 2
(_E_NO_LABEL, _E_LABEL, _E_LABEL_NONFINITE, _E_PAIR, _E_ZERO, _E_NEGATIVE, _E_HUGE, _E_VALUE, _E_NONFINITE,
 _E_QID, _E_QID_PLACE, _E_FLOAT32) = range(_ERROR, _ERROR + 12)
# Slots of the ``info`` array (in and out).
(_CONSUMED, _ROWS, _NNZ, _LINES, _ERR_START, _ERR_STOP, _ERR_LINE, _FALLBACKS, _MAX_RAW, _MAX_LINE,
 _ZERO_SEEN) = range(11)
_INFO_SIZE = 12
# Results of _number.
_OK, _BAD, _NONFINITE, _UNSETTLED = 0, 1, 2, 3

_U0, _U1 = np.uint64(0), np.uint64(1)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_MASK9 = np.uint64(0x1FF)
_TEN = np.uint64(10)
_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_SIGN = np.uint64(1 << 63)
_HIDDEN = np.uint64(1 << 52)
_EXPONENT_INF = 2047
_HUGE_INDEX = (1 << 62) // 10


def _powers_of_five():
    """128-bit truncated 5**q, normalized, for q in [-342, 308] (as fast_float's table)."""
    hi, lo = [], []
    for q in range(-342, 309):
        if q < 0:
            power5 = 5**-q
            z = power5.bit_length()
            b = z + 127 if q >= -27 else 2 * z + 2 * 64
            c = 2**b // power5 + 1
            while c >= 1 << 128:
                c //= 2
        else:
            c = 5**q
            while c < 1 << 127:
                c *= 2
            while c >= 1 << 128:
                c //= 2
        hi.append(c >> 64)
        lo.append(c & ((1 << 64) - 1))
    return np.array(hi, np.uint64), np.array(lo, np.uint64)


_P5_HI, _P5_LO = _powers_of_five()


@njit(**JIT)
def _mul128(a, b):
    """The 128-bit product of two uint64, as (high, low)."""
    a0, a1 = a & _M32, a >> _S32
    b0, b1 = b & _M32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32), (p00 & _M32) | (mid << _S32)


@njit(**JIT)
def _leading_zeros(x):
    n = 0
    for bits in (32, 16, 8, 4, 2, 1):
        if x >> np.uint64(64 - bits) == _U0:
            n += bits
            x = x << np.uint64(bits)
    return n


@njit(**JIT)
def _eisel_lemire(q, w):
    """``w * 10**q`` (w > 0) correctly rounded to a double, as (mantissa bits, biased exponent)."""
    if q < -342:
        return _U0, 0
    if q > 308:
        return _U0, _EXPONENT_INF
    lz = _leading_zeros(w)
    w = w << np.uint64(lz)
    index = q + 342
    high, low = _mul128(w, _P5_HI[index])
    if high & _MASK9 == _MASK9:
        high2, _ = _mul128(w, _P5_LO[index])
        low = low + high2
        if high2 > low:
            high += _U1
    upper = int(high >> np.uint64(63))
    shift = np.uint64(upper + 9)
    mantissa = high >> shift
    power2 = (((152170 + 65536) * q) >> 16) + 63 + upper - lz + 1023
    if power2 <= 0:  # subnormal
        if -power2 + 1 >= 64:
            return _U0, 0
        mantissa = mantissa >> np.uint64(-power2 + 1)
        mantissa += mantissa & _U1
        mantissa = mantissa >> _U1
        return mantissa & (_HIDDEN - _U1), 0 if mantissa < _HIDDEN else 1
    if low <= _U1 and -4 <= q <= 23 and mantissa & np.uint64(3) == _U1:
        if mantissa << shift == high:  # exactly halfway: round to even
            mantissa = mantissa & ~_U1
    mantissa += mantissa & _U1
    mantissa = mantissa >> _U1
    if mantissa >= _HIDDEN << _U1:
        mantissa = _HIDDEN
        power2 += 1
    if power2 >= _EXPONENT_INF:
        return _U0, _EXPONENT_INF
    return mantissa & (_HIDDEN - _U1), power2


@njit(**JIT)
def _is_word(buf, p, end, word):
    """Whether ``buf[p:end]`` spells ``word`` (lowercase ASCII codes), in any case."""
    if end - p != len(word):
        return False
    for k in range(len(word)):
        if buf[p + k] | 32 != word[k]:
            return False
    return True


_NAN = (110, 97, 110)
_INF = (105, 110, 102)
_INFINITY = (105, 110, 102, 105, 110, 105, 116, 121)


@njit(**JIT)
def _number(buf, p, end):
    """The float64 bits of ``buf[p:end]``, all of it a decimal number: (result, bits)."""
    if p >= end:
        return _BAD, _U0
    sign = _U0
    c = buf[p]
    if c == 45:  # -
        sign = _SIGN
        p += 1
    elif c == 43:  # +
        p += 1
    if p < end and (buf[p] | 32 == 110 or buf[p] | 32 == 105):  # n, i
        if _is_word(buf, p, end, _NAN) or _is_word(buf, p, end, _INF) or _is_word(buf, p, end, _INFINITY):
            return _NONFINITE, _U0
        return _BAD, _U0
    w = _U0
    taken = 0  # significant digits in w, at most 19
    digits = 0
    exponent = 0
    truncated = False
    while p < end and 48 <= buf[p] <= 57:
        d = buf[p] - 48
        digits += 1
        p += 1
        if taken == 0 and d == 0:
            continue
        if taken < 19:
            w = w * _TEN + np.uint64(d)
            taken += 1
        else:
            exponent += 1
            truncated |= d != 0
    if p < end and buf[p] == 46:  # .
        p += 1
        while p < end and 48 <= buf[p] <= 57:
            d = buf[p] - 48
            digits += 1
            p += 1
            if taken == 0 and d == 0:
                exponent -= 1
                continue
            if taken < 19:
                w = w * _TEN + np.uint64(d)
                taken += 1
                exponent -= 1
            else:
                truncated |= d != 0
    if digits == 0:
        return _BAD, _U0
    if p < end and buf[p] | 32 == 101:  # e
        p += 1
        negative = False
        if p < end and (buf[p] == 45 or buf[p] == 43):
            negative = buf[p] == 45
            p += 1
        if p == end or not 48 <= buf[p] <= 57:
            return _BAD, _U0
        e = 0
        while p < end and 48 <= buf[p] <= 57:
            if e < 100_000_000:
                e = e * 10 + (buf[p] - 48)
            p += 1
        exponent += -e if negative else e
    if p != end:
        return _BAD, _U0
    if w == _U0:
        return _OK, sign
    mantissa, power2 = _eisel_lemire(exponent, w)
    if truncated:  # the true digits lie between w and w + 1
        above, power_above = _eisel_lemire(exponent, w + _U1)
        if above != mantissa or power_above != power2:
            return _UNSETTLED, _U0
    if power2 == _EXPONENT_INF:
        return _NONFINITE, _U0
    return _OK, sign | (np.uint64(power2) << np.uint64(52)) | mantissa


@njit(**JIT)
def _is_space(c):
    return c == 32 or 9 <= c <= 13 and c != 10


@njit(**JIT)
def _ends_token(c):
    return c == 32 or 9 <= c <= 13 or c == 35  # whitespace, newline or #


@njit(**JIT)
def _parse_lines(buf, pos, stop, shift, zero_ok, limit, nnz_base, line_base, labels, ends, indices, values,
                 fallback, info):
    """Parse the lines of ``buf[pos:stop]`` (complete lines; the last one may
    lack its newline) into ``labels``, ``ends`` (global ``indptr`` entries),
    ``indices`` (minus ``shift``) and ``values`` (float64 bits).

    Stops early when the output buffers are full (``_FULL``; ``info`` says
    how far it got, always at a line boundary) or at the first error (its
    code; ``info`` holds the token and the line).
    """
    rows = nnz = n_fallback = 0
    line = line_base
    max_raw, max_line, zero_seen = info[_MAX_RAW], info[_MAX_LINE], info[_ZERO_SEEN]
    status = _NEED_MORE
    while pos < stop:
        line_start, line_nnz, line_fallback = pos, nnz, n_fallback
        line += 1
        p = pos
        while p < stop and _is_space(buf[p]):
            p += 1
        if p == stop or buf[p] == 10 or buf[p] == 35:  # blank, or a comment
            while p < stop and buf[p] != 10:
                p += 1
            pos = p + 1
            continue
        if rows == labels.shape[0]:
            status = _FULL
            line -= 1
            break
        # The label.
        t0 = p
        colon = False
        while p < stop and not _ends_token(buf[p]):
            colon |= buf[p] == 58
            p += 1
        error = 0
        if colon:
            error = _E_NO_LABEL
        else:
            result, bits = _number(buf, t0, p)
            if result == _BAD:
                error = _E_LABEL
            elif result == _NONFINITE:
                error = _E_LABEL_NONFINITE
            elif result == _UNSETTLED:
                if n_fallback == fallback.shape[0]:
                    status = _FULL
                    line -= 1
                    break
                fallback[n_fallback, 0] = 1
                fallback[n_fallback, 1] = rows
                fallback[n_fallback, 2] = t0
                fallback[n_fallback, 3] = p
                fallback[n_fallback, 4] = line
                n_fallback += 1
            labels[rows] = bits
        if error:
            info[_ERR_START], info[_ERR_STOP], info[_ERR_LINE] = t0, p, line
            return error
        # The pairs.
        first = True
        full = False
        while True:
            while p < stop and _is_space(buf[p]):
                p += 1
            if p == stop or buf[p] == 10:
                break
            if buf[p] == 35:  # a comment to the end of the line
                while p < stop and buf[p] != 10:
                    p += 1
                break
            t0 = p
            colon = -1
            while p < stop and not _ends_token(buf[p]):
                if buf[p] == 58 and colon < 0:
                    colon = p
                p += 1
            t1 = p
            if colon < 0:
                error = _E_PAIR
            elif colon - t0 == 3 and buf[t0] == 113 and buf[t0 + 1] == 105 and buf[t0 + 2] == 100:  # qid
                if not first:
                    error = _E_QID_PLACE
                else:
                    k = colon + 1
                    if k < t1 and (buf[k] == 45 or buf[k] == 43):
                        k += 1
                    if k == t1:
                        error = _E_QID
                    while k < t1:
                        if not 48 <= buf[k] <= 57:
                            error = _E_QID
                        k += 1
                first = False
                if not error:
                    continue
            if error:
                info[_ERR_START], info[_ERR_STOP], info[_ERR_LINE] = t0, t1, line
                return error
            first = False
            # The index.
            k = t0
            negative = buf[k] == 45
            if negative:
                k += 1
            raw = 0
            if k == colon:
                error = _E_PAIR
            while k < colon:
                c = buf[k]
                if not 48 <= c <= 57:
                    error = _E_PAIR
                    break
                if raw > _HUGE_INDEX:
                    error = _E_HUGE
                    break
                raw = raw * 10 + (c - 48)
                k += 1
            if not error and negative:
                error = _E_NEGATIVE
            if not error and raw == 0 and shift:
                if zero_ok:
                    zero_seen = 1
                else:
                    error = _E_ZERO
            if error:
                info[_ERR_START], info[_ERR_STOP], info[_ERR_LINE] = t0, t1, line
                return error
            if nnz == values.shape[0]:
                full = True
                break
            # The value.
            result, bits = _number(buf, colon + 1, t1)
            if result == _BAD:
                error = _E_VALUE
            elif result == _NONFINITE:
                error = _E_NONFINITE
            elif result == _UNSETTLED:
                if n_fallback == fallback.shape[0]:
                    full = True
                    break
                fallback[n_fallback, 0] = 0
                fallback[n_fallback, 1] = nnz
                fallback[n_fallback, 2] = colon + 1
                fallback[n_fallback, 3] = t1
                fallback[n_fallback, 4] = line
                n_fallback += 1
            elif bits & _ABS >= limit:
                error = _E_FLOAT32
            if error:
                info[_ERR_START], info[_ERR_STOP], info[_ERR_LINE] = t0, t1, line
                return error
            indices[nnz] = raw - shift
            values[nnz] = bits
            nnz += 1
            if raw > max_raw:
                max_raw, max_line = raw, line
        if full:  # undo the line and stop before it
            nnz, n_fallback = line_nnz, line_fallback
            line -= 1
            pos = line_start
            status = _FULL
            break
        ends[rows] = nnz_base + nnz
        rows += 1
        pos = p + 1
    info[_CONSUMED] = min(pos, stop)
    info[_ROWS], info[_NNZ], info[_LINES], info[_FALLBACKS] = rows, nnz, line, n_fallback
    info[_MAX_RAW], info[_MAX_LINE], info[_ZERO_SEEN] = max_raw, max_line, zero_seen
    return status
