"""Categorical columns: global mappings by value, codes, and hashed columns."""

import numpy as np
import pyarrow as pa
import pytest

from fastgd.data.categories import Categories, categories_of, codes_of, hashed_codes_of, merged, murmur3_32


def test_chunks_with_different_dictionaries_share_one_mapping_by_value():
    plain = pa.chunked_array([pa.array(["b", "a", None, "c"]), pa.array(["a", "d", "b"])])
    encoded = pa.chunked_array([pa.array(["b", "a", None, "c"]).dictionary_encode(),
                                pa.array(["d", "a", "b"]).dictionary_encode().take([1, 0, 2])])
    for column in (plain, encoded):
        categories = categories_of(column, "x")
        assert categories.values == ("a", "b", "c", "d") and categories.null and categories.size == 5
        assert categories.feature_names() == ["x=a", "x=b", "x=c", "x=d", "x=<null>"]
    np.testing.assert_array_equal(codes_of(plain, categories_of(plain, "x")), [1, 0, 4, 2, 0, 3, 1])
    np.testing.assert_array_equal(codes_of(encoded, categories_of(plain, "x")), [1, 0, 4, 2, 0, 3, 1])


def test_unseen_values_and_nulls_without_a_null_category_add_nothing():
    fitted = Categories("x", ("a", "b"))
    np.testing.assert_array_equal(codes_of(pa.array(["b", "z", None, "a"]), fitted), [1, -1, -1, 0])


def test_a_dictionary_declares_its_categories_used_or_not():
    """A pandas category or a polars Enum lists its categories: the layout of
    the coefficients does not depend on which rows a fit sees."""
    column = pa.DictionaryArray.from_arrays(pa.array([0, 0, 2], pa.int8()), pa.array(["r", "q", "p"]))
    assert categories_of(column, "x").values == ("p", "q", "r")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"k": pd.Categorical(["b", "b"], categories=["a", "b", "c"])})
    assert categories_of(pa.Table.from_pandas(frame).column("k"), "k").values == ("a", "b", "c")


def test_booleans_and_merging_parts():
    flags = categories_of(pa.array([True, False, True]), "flag")
    assert flags.values == (False, True) and flags.feature_names() == ["flag=false", "flag=true"]
    both = merged(categories_of(pa.array(["a", "c"]), "x"), categories_of(pa.array(["b", None]), "x"))
    assert both.values == ("a", "b", "c") and both.null


def test_murmur3_matches_scikit_learn():
    murmurhash3_32 = pytest.importorskip("sklearn.utils").murmurhash3_32
    rng = np.random.default_rng(0)
    words = ["", "a", "ab", "abc", "abcd", "abcde", "héllo wörld", "日本語のテキスト"]
    words += ["".join(rng.choice(list("abcdefxyz0123"), size=rng.integers(1, 40))) for _ in range(300)]
    for seed in (0, 1, 42):
        for word in words:
            data = np.frombuffer(word.encode(), np.uint8)
            assert int(murmur3_32(data, 0, len(data), seed)) == murmurhash3_32(word, seed=seed, positive=True)


def test_high_cardinality_columns_are_hashed_with_signs():
    murmurhash3_32 = pytest.importorskip("sklearn.utils").murmurhash3_32
    values = [f"user{i}" for i in range(3000)] + [None]
    column = pa.chunked_array([pa.array(values[:1000]), pa.array(values[1000:])])
    categories = categories_of(column, "user", max_categories=100, bits=12)
    assert categories.hashed and categories.size == 4096 and categories.feature_names()[5] == "user#5"
    buckets, signs = hashed_codes_of(column, 12)
    for i in (0, 999, 1000, 2999):
        h = murmurhash3_32(values[i], seed=0, positive=True)
        assert buckets[i] == h % 4096 and signs[i] == (-1.0 if h >= 2**31 else 1.0)
    assert buckets[3000] == murmurhash3_32("", seed=1, positive=True) % 4096
    assert 0.4 < np.mean(signs > 0) < 0.6  # signs cancel collisions on average
    sliced = column.combine_chunks().slice(500, 100)
    np.testing.assert_array_equal(hashed_codes_of(sliced, 12)[0], buckets[500:600])
