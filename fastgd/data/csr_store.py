"""Sparse rows on disk: a directory of ``.npy`` files, memory-mapped as one CSR matrix.

A *CSR store* is what :mod:`fastgd.data.svmlight` converts text files into,
and what anyone can write with numpy. ``open_dataset("train.csr")`` opens a
directory holding a ``meta.json`` of this format; nothing is read whole: the
arrays are memory-mapped (``np.load(mmap_mode="r")``) and wrapped as a
``scipy.sparse.csr_matrix`` without a copy, then checked once in a single
streaming pass (compiled loops over the mapped arrays, no temporaries of the
size of the data).

Layout
------
A directory (any name; ``.csr`` is a good suffix) with these files, each a
plain 1-D, C-ordered, native-byte-order ``.npy`` array (``np.save``, no
pickles)::

    meta.json    {"format": "fastgd-csr", "version": 1,
                  "n_rows": n, "n_features": d,
                  "nnz": nnz,                          optional, checked if present
                  "dtypes": {"data": "float64", ...},  optional, checked if present
                  "source": {...}}                     optional, written by converters
    data.npy     (nnz,)   float32 or float64   the stored values, row after row
    indices.npy  (nnz,)   int32 or int64       their 0-based column, in [0, d)
    indptr.npy   (n+1,)   int32 or int64       row i is positions indptr[i]:indptr[i+1];
                                               indptr[0] == 0, indptr[n] == nnz, never decreasing
    y.npy        (n,)     float64 (any number) targets; optional
    w.npy        (n,)     float64 (any number) sample weights, finite and >= 0; optional

This is exactly scipy's CSR triple: ``scipy.sparse.csr_matrix((data,
indices, indptr), shape=(n, d))``. Columns within a row may come in any
order and may repeat: repeated columns add up, as in scipy and in the
kernels (nothing is sorted or merged on disk). Values must be finite; a NaN
or infinity is an error naming its row and column. Give ``indices`` and
``indptr`` the same dtype (int32 while nnz and d fit, as scipy does): mixed
dtypes work but compile one more specialization of every kernel.

Writing a store by hand::

    os.makedirs("train.csr")
    np.save("train.csr/data.npy", X.data)          # X: a scipy CSR matrix
    np.save("train.csr/indices.npy", X.indices)
    np.save("train.csr/indptr.npy", X.indptr)
    np.save("train.csr/y.npy", y.astype(np.float64))
    with open("train.csr/meta.json", "w") as f:
        json.dump({"format": "fastgd-csr", "version": 1,
                   "n_rows": X.shape[0], "n_features": X.shape[1]}, f)

or :func:`save_csr`. Arrays larger than memory are written the same way
through ``np.lib.format.open_memmap``.
"""

import json
import os
from pathlib import Path

import numpy as np
from numba import njit

from .._config import JIT
from .._validation import check_sample_weight, check_target, readonly
from .dataset import Dataset
from .files import reading

FORMAT = "fastgd-csr"
VERSION = 1
META = "meta.json"
_FILES = ("data", "indices", "indptr", "y", "w")
_VALUE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))

#: Elements checked per step of the validation loops (their early exits
#: would otherwise keep LLVM from vectorizing the scan).
_STEP = 4096


# -- reading ------------------------------------------------------------------


def is_store(path):
    """Whether ``path`` is a directory holding a ``meta.json`` of this format."""
    path = Path(path)
    meta = path / META
    if not (path.is_dir() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_meta(path):
    """The store's ``meta.json`` as a dict, its required keys checked."""
    path = Path(path)
    try:
        meta = json.loads((path / META).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no CSR store at '{path}': it has no {META}") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"CSR store '{path}': cannot read {META}: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"CSR store '{path}': {META} does not say \"format\": \"{FORMAT}\"")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise ValueError(
            f"CSR store '{path}' has version {meta.get('version')!r}; this fastgd reads version {VERSION} or older"
        )
    for key in ("n_rows", "n_features"):
        if not isinstance(meta.get(key), int) or meta[key] < 0:
            raise ValueError(f"CSR store '{path}': {META} needs \"{key}\", a non-negative integer; got {meta.get(key)!r}")
    return meta


def load_csr(path):
    """``(X, y, w)`` of a CSR store: X a validated, memory-mapped CSR matrix
    (read-only, no copy), y and w memory-mapped arrays or None when absent."""
    from .sparse import as_csr

    path = Path(path)
    meta = read_meta(path)
    n, d = meta["n_rows"], meta["n_features"]
    arrays = {}
    for name in _FILES:
        file = path / f"{name}.npy"
        if not file.exists():
            if name in ("y", "w"):
                arrays[name] = None
                continue
            raise ValueError(f"CSR store '{path}' has no {name}.npy")
        arrays[name] = _load(file)
    data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    for name, allowed in (("data", _VALUE_DTYPES), ("indices", _INDEX_DTYPES), ("indptr", _INDEX_DTYPES)):
        a = arrays[name]
        if a.dtype not in allowed:
            raise ValueError(
                f"CSR store '{path}': {name}.npy has dtype {a.dtype}; use "
                + " or ".join(str(t) for t in allowed) + " (native byte order)"
            )
    for name, a in arrays.items():
        if a is not None and a.ndim != 1:
            raise ValueError(f"CSR store '{path}': {name}.npy must be 1-D, got shape {a.shape}")
    nnz = meta.get("nnz", data.shape[0])
    if data.shape[0] != nnz or indices.shape[0] != nnz:
        raise ValueError(
            f"CSR store '{path}': {META} says nnz={nnz}, but data.npy has {data.shape[0]} values and "
            f"indices.npy {indices.shape[0]}"
        )
    if indptr.shape[0] != n + 1:
        raise ValueError(f"CSR store '{path}': indptr.npy has {indptr.shape[0]} entries; {n} rows need {n + 1}")
    for name, dtype in (meta.get("dtypes") or {}).items():
        if arrays.get(name) is not None and arrays[name].dtype != np.dtype(dtype):
            raise ValueError(f"CSR store '{path}': {META} says {name} is {dtype}, but {name}.npy holds {arrays[name].dtype}")
    for name in ("y", "w"):
        a = arrays[name]
        if a is not None and a.shape[0] != n:
            raise ValueError(f"CSR store '{path}': {name}.npy has {a.shape[0]} values for {n} rows")
    X = as_csr(csr_view(data, indices, indptr, (n, d)), name=f"CSR store '{path}'")
    return X, arrays["y"], arrays["w"]


def open_store(path, target=None, features=None, weight=None, description=None):
    """A :class:`Dataset` of a CSR store.

    ``target``: None or ``"y"`` for the store's ``y.npy`` (None opens a store
    without one for prediction only), an array of values, or the path of a
    ``.npy`` file. ``weight``: None or ``"w"`` for ``w.npy`` when present,
    an array, or a ``.npy`` path.
    """
    from .sparse import SparseSource

    path = Path(path)
    description = description or f"CSR store '{path}'"
    if features is not None:
        raise ValueError(f"{description} has no named columns: open it without features")
    X, y, w = load_csr(path)
    y = _column(y, target, "y", "target", description)
    w = _column(w, weight, "w", "weight", description)
    if y is not None:
        y = check_target(y, X.shape[0], name=f"the target of {description}")
        if y.dtype.kind == "f":  # the sparse source never looks at its targets again
            bad = _first_nonfinite(readonly(y))
            if bad >= 0:
                shown = "NaN" if np.isnan(y[bad]) else repr(float(y[bad]))
                raise ValueError(
                    f"y of {description} contains {shown} at row {bad}; remove or impute non-finite values before fitting"
                )
    if w is not None:
        w = check_sample_weight(w, X.shape[0])
    return Dataset(SparseSource(X, raw_y=y, w=w), description, target=None if y is None else "y")


def _column(stored, given, name, role, description):
    if given is None:
        return stored
    if isinstance(given, str) and given == name:
        if stored is None:
            raise ValueError(f"{description} has no {name}.npy; pass the {role} values")
        return stored
    if isinstance(given, (str, os.PathLike)):
        if not str(given).lower().endswith(".npy"):
            raise ValueError(
                f"{description} has no named columns: pass {role}={name!r} (its {name}.npy), "
                f"an array of values or a .npy path; got {given!r}"
            )
        return _load(Path(given))
    return given


def _load(file):
    if not file.exists():
        raise FileNotFoundError(f"no such file or directory: '{file}'")
    return reading(file, "npy", lambda: np.load(file, mmap_mode="r", allow_pickle=False))


def csr_view(data, indices, indptr, shape, cls=None):
    """A CSR matrix (``cls``: scipy's ``csr_matrix`` by default, or ``csr_array``)
    over read-only views of these arrays: never a copy, whatever their dtypes.

    scipy's constructor would check the contents of 64-bit index arrays (a
    pass over them) and copy them into int32 when the values fit; here the
    arrays are attached as they are. Nothing is checked: see ``as_csr``.
    """
    import scipy.sparse as sp

    cls = cls or sp.csr_matrix
    X = cls((1, 1), dtype=data.dtype)
    X.data, X.indices, X.indptr = (readonly(np.asarray(a)) for a in (data, indices, indptr))
    X._shape = (int(shape[0]), int(shape[1]))
    return X


# -- checking, in bounded memory ---------------------------------------------


def check_csr_arrays(data, indices, indptr, n_features, name="X"):
    """Raise a ValueError naming the first row (and column) where the CSR
    arrays go wrong: ``indptr`` decreasing, a column outside ``[0,
    n_features)``, a NaN or infinity. Streams over the arrays (memory maps
    included) without allocating anything of their size."""
    indptr, indices, data = readonly(indptr), readonly(indices), readonly(data)
    row = _first_fall(indptr)
    if row >= 0:
        raise ValueError(f"{name} is not a valid CSR matrix: indptr decreases at row {row}")
    k = _first_bad_index(indices, n_features)
    if k >= 0:
        raise ValueError(f"{name} has column index {indices[k]} at row {row_of(indptr, k)}, outside [0, {n_features})")
    k = _first_nonfinite(data)
    if k >= 0:
        value = data[k]
        shown = "NaN" if np.isnan(value) else repr(float(value))
        raise ValueError(
            f"{name} contains {shown} at row {row_of(indptr, k)}, column {indices[k]}; remove or impute non-finite values"
        )


def row_of(indptr, k):
    """The row holding stored position ``k`` (empty rows skipped): a binary search, no copy."""
    return int(np.searchsorted(indptr, k, side="right") - 1)


@njit(**JIT)
def _first_fall(indptr):
    for i in range(indptr.shape[0] - 1):
        if indptr[i + 1] < indptr[i]:
            return i
    return -1


@njit(**JIT)
def _first_bad_index(indices, d):
    n = indices.shape[0]
    for start in range(0, n, _STEP):
        stop = min(n, start + _STEP)
        bad = 0
        for k in range(start, stop):
            j = indices[k]
            bad |= (j < 0) | (j >= d)
        if bad:
            for k in range(start, stop):
                if indices[k] < 0 or indices[k] >= d:
                    return k
    return -1


@njit(**JIT)
def _first_nonfinite(data):
    n = data.shape[0]
    for start in range(0, n, _STEP):
        stop = min(n, start + _STEP)
        bad = 0
        for k in range(start, stop):
            bad |= not (abs(data[k]) < np.inf)
        if bad:
            for k in range(start, stop):
                if not (abs(data[k]) < np.inf):
                    return k
    return -1


# -- writing ------------------------------------------------------------------


def save_csr(path, X, y=None, sample_weight=None, source=None):
    """Write a CSR store of ``X`` (any scipy.sparse matrix, made CSR), with
    targets ``y`` and ``sample_weight`` when given, into the new directory ``path``."""
    import scipy.sparse as sp

    path = Path(path)
    X = sp.csr_matrix(X)
    n, d = X.shape
    data = X.data if X.data.dtype in _VALUE_DTYPES else X.data.astype(np.float64)
    indices, indptr = X.indices, X.indptr
    if indices.dtype != indptr.dtype:
        common = np.promote_types(indices.dtype, indptr.dtype)
        indices, indptr = indices.astype(common), indptr.astype(common)
    os.makedirs(path)
    arrays = {"data": data, "indices": indices, "indptr": indptr}
    if y is not None:
        arrays["y"] = np.asarray(y, dtype=np.float64)
    if sample_weight is not None:
        arrays["w"] = np.asarray(sample_weight, dtype=np.float64)
    for name, a in arrays.items():
        np.save(path / f"{name}.npy", np.ascontiguousarray(a), allow_pickle=False)
    write_meta(path, n, d, X.nnz, {name: str(a.dtype) for name, a in arrays.items()}, source)
    return path


def write_meta(path, n_rows, n_features, nnz, dtypes, source=None):
    meta = {"format": FORMAT, "version": VERSION, "n_rows": int(n_rows), "n_features": int(n_features),
            "nnz": int(nnz), "dtypes": dtypes}
    if source is not None:
        meta["source"] = source
    (Path(path) / META).write_text(json.dumps(meta, indent=1) + "\n")
