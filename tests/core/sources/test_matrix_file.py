"""Tests of lowrank_core.sources.matrix_file: load_matrix on text, .npy, .npz and .pt, and every failure
path.

Fixtures are generated in the tests (numpy, torch), so no binary test files are needed.
"""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lowrank_core import sources
from lowrank_core.errors import (
    EmptyInputError,
    InputError,
    NonFiniteError,
    ParseError,
    ShapeError,
    TooLargeError,
    UnsafeFileError,
    UnsupportedFormatError,
)
from lowrank_core.sources import LoadedMatrix, load_matrix
from tests.core.sources.helpers import _npy, _npz, _pt, _TouchOnUnpickle


def _values(result: LoadedMatrix) -> list[list[float]]:
    return result.values.tolist()


@pytest.mark.parametrize(
    "text, name, expected",
    [
        ("1,2,3\n4,5,6\n", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1;2;3\n4;5;6", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1\t2\t3\n4\t5\t6\n", "m.tsv", [[1, 2, 3], [4, 5, 6]]),
        ("1 2   3\n 4 5 6 \n", "m.txt", [[1, 2, 3], [4, 5, 6]]),
        ("1, 2, 3\r\n4, 5, 6\r\n", "m.csv", [[1, 2, 3], [4, 5, 6]]),
        ("1,2\r3,4\r", "m.csv", [[1, 2], [3, 4]]),
        ("\n\n1,2\n\n  \n3,4\n\n", "m.csv", [[1, 2], [3, 4]]),
        ("1.5e2,-0.25,+3\n", "m.csv", [[150, -0.25, 3]]),
        ("7\n8\n9\n", "column.csv", [[7], [8], [9]]),
        ("7,8,9", "row.csv", [[7, 8, 9]]),
        ('"1","2"\n"3","4"\n', "quoted.csv", [[1, 2], [3, 4]]),
        ("1 2\n3 4", "no-extension", [[1, 2], [3, 4]]),
    ],
)
def test_text_formats(text, name, expected):
    assert _values(load_matrix(text, name=name)) == expected
    assert _values(load_matrix(text.encode(), name=name)) == expected


def test_bom_and_crlf():
    result = load_matrix("\ufeff1,2\r\n3,4\r\n".encode(), name="excel.csv")
    assert _values(result) == [[1, 2], [3, 4]]
    assert result.source_format == "csv"
    assert _values(load_matrix("\ufeff1,2\n3,4")) == [[1, 2], [3, 4]]  # pasted text with a BOM


def test_header_row_is_accepted_with_a_notice():
    result = load_matrix(b"x,y,z\n1,2,3\n4,5,6\n", name="h.csv")
    assert _values(result) == [[1, 2, 3], [4, 5, 6]]
    assert result.notices == ("The first row ('x, y, z') was read as column names, not numbers.",)


@pytest.mark.parametrize(("text", "row", "words"), [
    ("1 2 3\n4,5,6\n7,8,9", 1, ["spaces", "commas"]),
    ("1;2;3\n4,5,6\n7,8,9", 1, ["semicolons", "commas"]),
    ("1\t2\t3\n4,5,6\n7,8,9", 1, ["tabs", "commas"]),
    ("1,2,3\n4 5 6\n7,8,9", 2, ["spaces", "commas"]),
    ("1;2\n3;4\n5 6\n", 3, ["spaces", "semicolons"]),
])
def test_rows_with_mixed_separators_are_refused_not_read_as_a_header(text, row, words):
    """Issue 12: pasted rows of two origins silently made row 1 the header (3 rows became 2)."""
    with pytest.raises(ParseError) as raised:
        load_matrix(text, name="pasted.txt")
    message = str(raised.value)
    assert message.startswith(f"Row {row} (") and "one separator on every row" in message
    assert all(word in message for word in words), message


@pytest.mark.parametrize("text", ["x y z\n1 2 3\n", "a,b\n1,2\n", "1st, 2nd\n1, 2\n"])
def test_a_header_of_words_is_still_a_header(text):
    result = load_matrix(text, name="h.txt")
    assert result.values.shape[0] == 1 and "column names" in result.notices[0]


def test_comment_lines_are_skipped_with_a_notice():
    result = load_matrix("# saved by numpy.savetxt\n1 2\n# middle\n3 4\n", name="m.txt")
    assert _values(result) == [[1, 2], [3, 4]]
    assert "Skipped 2 comment lines" in result.notices[0]


def test_source_format_follows_the_extension():
    assert load_matrix("1,2", name="a.csv").source_format == "csv"
    assert load_matrix("1\t2", name="a.tsv").source_format == "csv"
    assert load_matrix("1 2", name="a.txt").source_format == "text"
    assert load_matrix("1 2", name="pasted").source_format == "text"
    assert load_matrix(_npy(np.eye(2)), name="a.npy").source_format == "npy"
    assert load_matrix(_npy(np.eye(2)), name="matrix.bin").source_format == "npy"  # sniffed
    assert load_matrix(_npz(W=np.eye(2)), name="a.npz").source_format == "npz"
    assert load_matrix(_pt(torch.eye(2)), name="a.pth").source_format == "pt"


@pytest.mark.parametrize(
    "text, error, needle",
    [
        ("", EmptyInputError, "contains no numbers"),
        ("\n \n\r\n", EmptyInputError, "contains no numbers"),
        ("a,b,c\n", EmptyInputError, "column names but no numbers"),
        ("1,2,3\n4,abc,6\n", ParseError, "Row 2, column 2 is 'abc', not a number."),
        ("1,2,3\n\n4,5,6\n7,8,x\n", ParseError, "Row 4, column 3 is 'x'"),  # the file's own line numbers
        ("1,2,3\n4,,6\n", ParseError, "Row 2, column 2 is empty"),
        ("1,2,3\n4,5\n", ParseError, "Row 2 has 2 values, expected 3"),
        ("1,2,3\n4,5,6,7\n", ParseError, "Row 2 has 4 values, expected 3"),
        ("1 2\n3\n", ParseError, "Row 2 has 1 value, expected 2"),
        ("1,2\n3,nan\n", NonFiniteError, "Row 2, column 2 is NaN"),
        ("1,2\n3,4\ninf,5\n", NonFiniteError, "Row 3, column 1 is infinite"),
        ("1,-Infinity\n", NonFiniteError, "Row 1, column 2 is infinite"),
        ("1,2\n3,1e39\n", NonFiniteError, "Row 2, column 2 is 1e+39, which overflows float32"),
        ("1,2\n3," + "x" * 500 + "\n", ParseError, "Row 2, column 2 is 'xxxxxxxx"),
        ("x,1\n2,3\n", ParseError, "Row 1, column 1 is 'x'"),  # a partly numeric first row is data
    ],
)
def test_text_failures_name_the_place(text, error, needle):
    with pytest.raises(error) as info:
        load_matrix(text, name="m.csv")
    assert needle in str(info.value)
    assert len(str(info.value)) < 250  # a 500-character cell is never echoed in full


def test_decimal_commas_get_a_hint():
    with pytest.raises(ParseError, match="Row 1, column 1 is '1,5', not a number. Use a dot"):
        load_matrix("1,5;2,5\n3,0;4,0\n", name="european.csv")


def test_bad_utf8_is_a_parse_error_naming_the_byte():
    with pytest.raises(ParseError, match="byte 0xff at position 4"):
        load_matrix(b"1,2\n\xff,3\n", name="latin.csv")


def test_binary_extension_refuses_pasted_text():
    with pytest.raises(ParseError, match="upload the file"):
        load_matrix("1,2", name="m.npy")


def test_too_many_entries():
    with pytest.raises(TooLargeError, match="more than 5 values"):
        load_matrix("1,2,3\n4,5,6\n", name="m.csv", max_entries=5)
    with pytest.raises(TooLargeError, match="limit"):
        load_matrix(_npy(np.zeros((3, 2))), name="m.npy", max_entries=5)
    with pytest.raises(TooLargeError):
        load_matrix(_npz(W=np.zeros((3, 2))), name="m.npz", max_entries=5)
    with pytest.raises(TooLargeError):
        load_matrix(_pt(torch.zeros(3, 2)), name="m.pt", max_entries=5)
    assert load_matrix("1,2,3\n4,5,6\n", name="m.csv", max_entries=6).values.shape == (2, 3)


def test_byte_limits_are_checked_before_parsing():
    big_text = "1" * (10 * sources.TEXT_BYTES_PER_ENTRY + 1)
    with pytest.raises(TooLargeError, match="MB"):
        load_matrix(big_text, name="m.csv", max_entries=10)
    big_binary = _npy(np.zeros(10)) + b"\x00" * (sources.BINARY_OVERHEAD_BYTES + 100)
    with pytest.raises(TooLargeError, match="MB"):
        load_matrix(big_binary, name="m.npy", max_entries=10)


def test_npy_header_claiming_a_huge_array_is_refused_before_allocation():
    data = bytearray(_npy(np.zeros((2, 2))))
    header = data[10:].split(b"}")[0]
    patched = header.replace(b"(2, 2)", b"(99999, 99999)")
    data = data[:10] + patched + data[10 + len(header):]
    data[8:10] = struct.pack("<H", len(data) - 10 - 32)  # keep the header length consistent
    with pytest.raises(TooLargeError, match="99999×99999 array"):
        load_matrix(bytes(data), name="m.npy")  # 80 GB if numpy allocated it


# ---------------------------------------------------------------------------------------------- npy


def test_npy_float_round_trip():
    x = np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)
    result = load_matrix(_npy(x), name="x.npy")
    np.testing.assert_array_equal(result.values.numpy(), x)
    assert result.notices == ()


def test_npy_one_dimensional_becomes_a_row():
    result = load_matrix(_npy(np.arange(5.0)), name="v.npy")
    assert tuple(result.values.shape) == (1, 5)
    assert "single row (1×5)" in result.notices[0]


@pytest.mark.parametrize(
    "array, error, needle",
    [
        (np.float64(3.0), ShapeError, "single number"),
        (np.zeros((2, 3, 4)), ShapeError, "3 dimensions (shape (2, 3, 4))"),
        (np.zeros((2, 2), np.complex64), UnsupportedFormatError, "complex"),
        (np.array([["a", "b"]]), UnsupportedFormatError, "not numbers"),
        (np.zeros((0, 3)), EmptyInputError, "empty"),
        (np.array([[1.0, np.nan]]), NonFiniteError, "Row 1, column 2 is NaN"),
        (np.array([[1.0, 2.0], [np.inf, 0]]), NonFiniteError, "Row 2, column 1 is infinite"),
        (np.array([[1.0, 2.0], [3.0, 1e39]]), NonFiniteError, "Row 2, column 2 is 1e+39, which overflows"),
        (np.array([[1.0, -5e38]]), NonFiniteError, "overflows float32"),
    ],
)
def test_npy_failures(array, error, needle):
    with pytest.raises(error) as info:
        load_matrix(_npy(array), name="a.npy")
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "array, notice",
    [
        (np.array([[True, False]]), "True/False values were converted to 1/0."),
        (np.array([[1, 2]], np.int64), "Whole numbers (int64) were converted to 32-bit floats."),
        (np.array([[1, 2]], np.uint8), "Whole numbers (uint8) were converted to 32-bit floats."),
        (np.array([[1, 2]], ">f8"), None),
        (np.array([[1, 2]], ">i4"), "Whole numbers (int32) were converted to 32-bit floats."),
        (np.array([[1, 2]], np.float16), None),
    ],
)
def test_npy_dtypes_are_converted(array, notice):
    result = load_matrix(_npy(array), name="a.npy")
    assert result.values.dtype == torch.float32
    assert _values(result) == [[1, 2]] or _values(result) == [[1, 0]]
    assert (notice in result.notices) if notice else result.notices == ()


def test_large_integers_warn_about_rounding():
    result = load_matrix(_npy(np.array([[2**24 + 1, 0]])), name="a.npy")
    assert any("16,777,216" in notice for notice in result.notices)


def test_object_npy_is_refused_without_running_its_pickle(tmp_path):
    control = tmp_path / "control"
    np.load(io.BytesIO(_npy(np.array([_TouchOnUnpickle(control)], dtype=object), allow_pickle=True)),
            allow_pickle=True)
    assert control.exists()  # the payload is live: unpickling it does run code

    marker = tmp_path / "pwned"
    data = _npy(np.array([_TouchOnUnpickle(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeFileError, match="pickle"):
        load_matrix(data, name="evil.npy")
    assert not marker.exists()


def test_plain_pickle_named_npy_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(InputError):
        load_matrix(pickle.dumps(_TouchOnUnpickle(marker)), name="evil.npy")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------- npz


def test_npz_with_one_array():
    result = load_matrix(_npz(W=np.eye(3)), name="w.npz")
    assert _values(result) == np.eye(3).tolist()
    assert result.notices == ("Using the array 'W' from the archive.",)


def test_npz_with_several_arrays_lists_them():
    with pytest.raises(ParseError) as info:
        load_matrix(_npz(U=np.eye(2), S=np.ones(2), Vh=np.eye(2)), name="svd.npz")
    assert "holds 3 arrays ('U', 'S', 'Vh')" in str(info.value)


def test_npz_with_many_arrays_lists_only_a_few():
    with pytest.raises(ParseError) as info:
        load_matrix(_npz(**{f"a{i}": np.eye(2) for i in range(20)}), name="many.npz")
    assert "and 15 more" in str(info.value)


def test_empty_npz():
    with pytest.raises(EmptyInputError):
        load_matrix(_npz(), name="empty.npz")


def test_object_npz_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    np.savez(buffer, evil=np.array([_TouchOnUnpickle(marker)], dtype=object))
    with pytest.raises(UnsafeFileError):
        load_matrix(buffer.getvalue(), name="evil.npz")
    assert not marker.exists()


def test_npz_failure_names_the_array_inside():
    with pytest.raises(NonFiniteError) as info:
        load_matrix(_npz(W=np.array([[1.0, np.nan]])), name="w.npz")
    assert "Row 1, column 2 of the array 'W' is NaN" in str(info.value)
    with pytest.raises(ShapeError) as info:
        load_matrix(_npz(W=np.zeros((2, 2, 2))), name="w.npz")
    assert "The array 'W.npy' inside the file 'w.npz' holds an array with 3 dimensions" in str(info.value)


# ----------------------------------------------------------------------------------------------- .pt


def test_pt_with_a_tensor():
    x = torch.randn(4, 6)
    result = load_matrix(_pt(x), name="x.pt")
    assert torch.equal(result.values, x) and result.notices == ()


def test_pt_with_a_dict_of_one_tensor_says_which_key():
    result = load_matrix(_pt({"weight": torch.ones(2, 3), "epoch": 3}), name="state.pt")
    assert _values(result) == [[1, 1, 1], [1, 1, 1]]
    assert result.notices == ("Using the tensor stored under the key 'weight'.",)


@pytest.mark.parametrize(
    "obj, error, needle",
    [
        ({"a": torch.ones(2), "b": torch.ones(2)}, ParseError, "holds 2 tensors ('a', 'b')"),
        ({"epoch": 3}, ParseError, "no tensor"),
        ([torch.ones(2)], ParseError, "holds a list"),
        (torch.ones(2, 2, 2), ShapeError, "3 dimensions"),
        (torch.tensor(3.0), ShapeError, "single number"),
        (torch.ones(2, 2, dtype=torch.complex64), UnsupportedFormatError, "complex"),
        (torch.tensor([[1.0, float("nan")]]), NonFiniteError, "Row 1, column 2 is NaN"),
        (torch.zeros(0, 4), EmptyInputError, "empty"),
    ],
)
def test_pt_failures(obj, error, needle):
    with pytest.raises(error) as info:
        load_matrix(_pt(obj), name="m.pt")
    assert needle in str(info.value)


def test_pt_view_claiming_a_huge_shape_is_refused_before_copying():
    view = torch.ones(1).expand(100_000, 100_000)  # 10^10 entries over a storage of one float
    data = _pt(view)
    assert len(data) < 5_000
    with pytest.raises(TooLargeError, match="100000×100000"):
        load_matrix(data, name="view.pt")


def test_pt_dtypes_are_converted():
    assert _values(load_matrix(_pt(torch.tensor([[1, 2]])), name="i.pt")) == [[1, 2]]
    bfloat = torch.tensor([[1.5, 2]], dtype=torch.bfloat16)
    assert _values(load_matrix(_pt(bfloat), name="b.pt")) == [[1.5, 2]]
    result = load_matrix(_pt(torch.tensor([[True, False]])), name="b.pt")
    assert _values(result) == [[1, 0]] and "True/False" in result.notices[0]


def test_pickled_object_in_pt_is_refused_without_running(tmp_path):
    control = tmp_path / "control"
    torch.load(io.BytesIO(_pt({"w": _TouchOnUnpickle(control)})), weights_only=False)
    assert control.exists()  # the payload is live

    marker = tmp_path / "pwned"
    with pytest.raises(UnsafeFileError, match="could run code"):
        load_matrix(_pt({"w": _TouchOnUnpickle(marker)}), name="evil.pt")
    assert not marker.exists()


def test_legacy_or_foreign_pt_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UnsupportedFormatError, match="zip format"):
        load_matrix(pickle.dumps(_TouchOnUnpickle(marker)), name="old.pt")
    assert not marker.exists()
    with pytest.raises(ParseError):
        load_matrix(_npz(W=np.eye(2)), name="not-torch.pt")  # a zip, but not torch's


@pytest.mark.parametrize(
    "data, options",
    [(None, {}), (b"1", {"name": 3}), (b"1", {"max_entries": 0}), (b"1", {"max_entries": "many"})],
)
def test_load_matrix_argument_validation(data, options):
    with pytest.raises(InputError):
        load_matrix(data, **options)


# ================================================================================ properties and fuzzing


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    delimiter=st.sampled_from([",", ";", "\t", " "]),
)
def test_text_round_trip(rows, cols, seed, delimiter):
    x = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    text = "\n".join(delimiter.join(repr(float(v)) for v in row) for row in x)
    np.testing.assert_array_equal(load_matrix(text, name="m.csv").values.numpy(), x)
    np.testing.assert_array_equal(load_matrix(_npy(x), name="m.npy").values.numpy(), x)
