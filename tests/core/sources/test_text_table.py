"""lowrank_core.sources.text_table (through load_matrix): long lines read chunk by chunk, the entry limit
checked while reading, U+2212 read as a minus sign, and values that underflow to 0 told."""

from __future__ import annotations

import contextlib
import io
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core.errors import ParseError, TooLargeError
from lowrank_core.sources import load_matrix


def _traced_peak(call) -> int:
    tracemalloc.start()
    try:
        call()
    except TooLargeError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_a_one_line_file_over_the_entry_limit_is_refused_while_it_is_read():
    """1.3 million cells on one line, 100,000 allowed: main split the whole line first (~80 MB of strings)."""
    data = b"12," * 1_333_333  # 4 MB: under the byte limit of 100,000 entries (4 MB)
    with pytest.raises(TooLargeError, match="more than 100,000 values"):
        load_matrix(data, name="line.csv", max_entries=100_000)
    peak = _traced_peak(lambda: load_matrix(data, name="line.csv", max_entries=100_000))
    assert peak < 3 * len(data), f"{peak / 2**20:.1f} MiB traced for a {len(data) / 2**20:.1f} MiB file"


def test_a_long_line_within_the_limit_is_read_chunk_by_chunk():
    values = np.random.default_rng(0).standard_normal(300_000)
    text = ",".join(f"{v:.6g}" for v in values)
    loaded = load_matrix(text.encode(), name="row.csv")
    np.testing.assert_array_equal(loaded.values.numpy(), np.loadtxt([text], delimiter=",", ndmin=2,
                                                                     dtype=np.float32))


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 4), columns=st.integers(1, 40), chunk=st.integers(3, 30),
       spaces=st.booleans(), seed=st.integers(0, 1000))
def test_chunks_cut_anywhere_give_numpys_table(rows, columns, chunk, spaces, seed):
    """With chunks of a few characters every cut falls inside some line: the table is numpy's all the same."""
    values = np.round(np.random.default_rng(seed).standard_normal((rows, columns)) * 1000, 3)
    separator = "  " if spaces else ","
    text = "\n".join(separator.join(f"{v:g}" for v in row) for row in values) + "\n"
    with _chunks_of(chunk):
        loaded = load_matrix(text, name="t.txt" if spaces else "t.csv")
    expected = np.loadtxt(io.StringIO(text), delimiter=None if spaces else ",", ndmin=2, dtype=np.float32)
    np.testing.assert_array_equal(loaded.values.numpy(), expected)


@contextlib.contextmanager
def _chunks_of(size: int):
    """text_table's chunk size set to ``size`` characters for the block."""
    from lowrank_core.sources import text_table

    original = text_table._CHUNK_CHARS
    text_table._CHUNK_CHARS = size
    try:
        yield
    finally:
        text_table._CHUNK_CHARS = original


def test_a_ragged_long_line_is_refused_with_its_count():
    text = ",".join(["1"] * 100_000) + "\n" + ",".join(["1"] * 100_003) + "\n"
    with pytest.raises(ParseError, match="Row 2 has 100003 values, expected 100000"):
        load_matrix(text, name="r.csv")


def test_unicode_minus_signs_are_minus_signs():
    loaded = load_matrix("\u22121.5,2\n3,\u22124e\u22122\n", name="m.csv")
    np.testing.assert_array_equal(loaded.values.numpy(), np.float32([[-1.5, 2], [3, -0.04]]))
    assert loaded.notices == ("Minus signs written as − (U+2212) were read as minus signs.",)


def test_values_that_underflow_to_zero_are_told():
    loaded = load_matrix("2,1e-50\n1e-400,3\n", name="u.csv")
    np.testing.assert_array_equal(loaded.values.numpy(), [[2, 0], [0, 3]])
    assert len(loaded.notices) == 1
    assert "2 values too close to 0" in loaded.notices[0]
    assert "row 1, column 2 ('1e-50')" in loaded.notices[0]
    assert load_matrix("0,0.0\n-0e5,1e-30\n", name="z.csv").notices == ()  # zeros and float32-sized values


def test_npy_values_that_underflow_in_float32_are_told():
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1.0, 1e-60], [5e-46, 1e-44]]))
    loaded = load_matrix(buffer.getvalue(), name="u.npy")
    np.testing.assert_array_equal(loaded.values.numpy(), np.float32([[1.0, 0], [0, 1e-44]]))
    assert "2 values too close to 0" in loaded.notices[0]
