"""Categorical columns: one global mapping per column, and the integer codes of its rows.

A categorical column (an Arrow dictionary column, a pandas ``category`` or
polars ``Categorical``/``Enum`` column, a string column) stands
for one indicator feature per category, and the kernels find a row's feature
through its integer code: no one-hot matrix is ever built. This module holds
what the kernels need for that, and nothing about fitting:

- :func:`categories_of` builds a column's :class:`Categories`: its sorted
  distinct values (a dictionary column's declared ones), and whether nulls occur (a null is a category of its own,
  sorted last); every chunk and every dictionary of the column is seen, so
  chunks and Parquet row groups whose dictionaries order the categories
  differently map to the same codes;
- :func:`codes_of` maps values to codes *by value*, so data whose dictionary
  orders the categories differently (or lacks some) gets the same codes;
  values the mapping has never seen get code -1, which adds nothing;
- above ``max_categories`` distinct values, a column is *hashed* instead:
  each value goes to one of ``2**bits`` buckets by the 32-bit MurmurHash3 of
  its UTF-8 bytes (the hash Vowpal Wabbit and scikit-learn's
  ``FeatureHasher`` use), with a sign from the hash's top bit so that
  collisions cancel on average instead of adding up. Two values that share a
  bucket share a coefficient (with their signs): a collision is a small,
  random loss of resolution, not an error. :func:`hashed_codes_of` reads the
  Arrow string buffers in compiled code: no Python object per row.

MurmurHash3 is written here (a few lines of integer arithmetic) because the
libraries that ship it (scikit-learn, mmh3) are not runtime dependencies and
offer no call over Arrow buffers.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from .._config import JIT

#: Distinct values above which a string column is hashed.
MAX_CATEGORIES = 10_000
#: Buckets of a hashed column: ``2**HASH_BITS``.
HASH_BITS = 18


@dataclass(frozen=True)
class Categories:
    """The mapping of one categorical column to indicator features.

    ``values`` are the categories in code order (sorted; a null category
    last when ``null`` is True), or empty for a hashed column, which has
    ``2**bits`` buckets instead.
    """

    name: str
    values: tuple = ()
    null: bool = False
    bits: int = 0

    @property
    def hashed(self):
        return self.bits > 0

    @property
    def size(self):
        """Indicator features (coefficients) the column stands for."""
        return 1 << self.bits if self.hashed else len(self.values) + self.null

    def feature_names(self):
        """``"name=value"`` per feature (``name=<null>``; ``name#bucket`` when hashed)."""
        if self.hashed:
            return [f"{self.name}#{b}" for b in range(self.size)]
        return [f"{self.name}={_shown(v)}" for v in self.values] + ([f"{self.name}=<null>"] if self.null else [])


def _shown(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def is_categorical(type_):
    """Whether an Arrow type is taken as categorical: dictionary and string
    columns (a boolean column is the number 0 or 1)."""
    return (
        pa.types.is_dictionary(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    )


def _plain(column):
    """The column's values as a plain (not dictionary-encoded) chunked array."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def categories_of(column, name, max_categories=MAX_CATEGORIES, bits=HASH_BITS):
    """The :class:`Categories` of a column (any Arrow array or chunked array).

    A dictionary column stands for every value of its dictionaries (unified
    over the chunks), used or not: a pandas ``category`` or polars ``Enum``
    declares its categories, and the layout of the coefficients then does not
    depend on which rows a fit sees (cross-validation folds, say). Its values
    are not decoded. Other columns take one ``unique`` over the values.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        unified = column.unify_dictionaries()
        dictionary = unified.chunk(0).dictionary if unified.num_chunks else pa.array([], column.type.value_type)
        distinct = pc.unique(dictionary).drop_null()
    else:
        distinct = pc.unique(column).drop_null()
    if len(distinct) > max_categories and not pa.types.is_boolean(column.type):
        return Categories(name, bits=bits)
    values = tuple(pc.take(distinct, pc.sort_indices(distinct)).to_pylist())
    return Categories(name, values, null=column.null_count > 0)


def merged(a, b, max_categories=MAX_CATEGORIES, bits=HASH_BITS):
    """The categories of two parts of one column (row groups, files, partitions)."""
    if a.hashed or b.hashed:
        return Categories(a.name, bits=max(a.bits, b.bits))
    values = set(a.values) | set(b.values)
    if len(values) > max_categories:
        return Categories(a.name, bits=bits)
    return Categories(a.name, tuple(sorted(values)), a.null or b.null)


def codes_of(column, categories):
    """Per row, the index of its feature within the column's features, or -1
    for a value the mapping has not seen (int32; a null maps to the null
    category, or -1 when the mapping has none).

    A dictionary column is mapped through its dictionaries: each chunk's
    dictionary (a few values) is looked up, then its indices pick the codes,
    with no value decoded.
    """
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    null_code = len(categories.values) if categories.null else -1
    if not pa.types.is_dictionary(column.type):
        return _value_codes(column, categories, null_code)
    out = np.empty(len(column), np.int32)
    start = 0
    for chunk in column.chunks:
        lookup = np.append(_value_codes(chunk.dictionary, categories, null_code), null_code).astype(np.int32)
        indices = chunk.indices.fill_null(len(chunk.dictionary)) if chunk.null_count else chunk.indices
        out[start : start + len(chunk)] = lookup[indices.to_numpy(zero_copy_only=False)]
        start += len(chunk)
    return out


def _value_codes(values, categories, null_code):
    known = pa.array(list(categories.values), values.type)
    codes = pc.index_in(values, value_set=known)
    missing = pc.is_null(codes)
    unseen = pc.and_(missing, pc.is_valid(values))
    codes = pc.if_else(missing, pc.if_else(unseen, -1, null_code), codes)
    return np.asarray(codes.to_numpy() if isinstance(codes, pa.Array) else codes.to_numpy(), dtype=np.int32)


def hashed_codes_of(column, bits):
    """Per row, ``(bucket, sign)`` of a hashed string column: int32 and float64
    arrays (a null has its own hash, of the empty byte string with seed 1)."""
    values = _plain(column).cast(pa.large_string())
    n = len(values)
    buckets = np.empty(n, np.int32)
    signs = np.empty(n)
    start = 0
    for chunk in values.chunks:
        validity, offsets, data = chunk.buffers()
        offsets = np.frombuffer(offsets, np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
        valid = chunk.is_valid().to_numpy(zero_copy_only=False) if chunk.null_count else np.ones(0, np.bool_)
        _hash_rows(data, offsets, valid, bits, buckets[start : start + len(chunk)], signs[start : start + len(chunk)])
        start += len(chunk)
    return buckets, signs


_M32 = 0xFFFFFFFF


@njit(**JIT)
def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & _M32


@njit(**JIT)
def _mix(k):
    return (_rotl((k * 0xCC9E2D51) & _M32, 15) * 0x1B873593) & _M32


@njit(**JIT)
def murmur3_32(data, start, stop, seed):
    """MurmurHash3 (x86, 32-bit) of the bytes ``data[start:stop]``, as an
    unsigned integer (in 64 bits: every product is cut back to 32)."""
    h = np.uint64(seed) & _M32
    length = stop - start
    blocks = length // 4
    for b in range(blocks):
        p = start + 4 * b
        k = np.uint64(data[p]) | (np.uint64(data[p + 1]) << 8) | (np.uint64(data[p + 2]) << 16) | (
            np.uint64(data[p + 3]) << 24
        )
        h = _rotl(h ^ _mix(k), 13)
        h = (h * 5 + 0xE6546B64) & _M32
    tail = start + 4 * blocks
    rest = length & 3
    k = np.uint64(0)
    if rest >= 3:
        k ^= np.uint64(data[tail + 2]) << 16
    if rest >= 2:
        k ^= np.uint64(data[tail + 1]) << 8
    if rest >= 1:
        k ^= np.uint64(data[tail])
        h ^= _mix(k)
    h ^= np.uint64(length)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


@njit(**JIT)
def _hash_rows(data, offsets, valid, bits, buckets, signs):
    mask = (1 << bits) - 1
    for i in range(buckets.shape[0]):
        if valid.shape[0] > 0 and not valid[i]:
            h = murmur3_32(data, 0, 0, 1)
        else:
            h = murmur3_32(data, offsets[i], offsets[i + 1], 0)
        buckets[i] = h & mask
        signs[i] = -1.0 if h >> 31 else 1.0
