"""Plate normalisation and validation (citybrain.scenes.paylater.plates): real-looking plates of every
series, the first broken rule named by position, the camera's colour checked, and random reads that
either parse idempotently or raise PlateError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.scenes.paylater.plates import (
    COLOURS,
    PROVINCES,
    SUFFIXES,
    Plate,
    PlateError,
    normalise,
    parse_plate,
)

VALID: list[tuple[str, str | None, Plate]] = [
    ("赣A12345", None, Plate("赣A12345", "赣", "A", "ordinary", "", False)),
    ("赣A12345", "blue", Plate("赣A12345", "赣", "A", "ordinary", "blue", False)),
    ("京NB8F88", "yellow", Plate("京NB8F88", "京", "N", "ordinary", "yellow", False)),
    ("沪AD12345", None, Plate("沪AD12345", "沪", "A", "new_energy_small", "green", True)),
    ("粤BFA1234", "绿", Plate("粤BFA1234", "粤", "B", "new_energy_small", "green", True)),
    ("苏EA12345", None, Plate("苏EA12345", "苏", "E", "new_energy_small", "green", True)),  # 2021 extension
    ("浙A12345D", None, Plate("浙A12345D", "浙", "A", "new_energy_large", "yellow_green", True)),
    ("闽D12345F", "黄绿", Plate("闽D12345F", "闽", "D", "new_energy_large", "yellow_green", True)),
    ("川A1234学", "yellow", Plate("川A1234学", "川", "A", "coach", "yellow", False)),
    ("赣A1234警", None, Plate("赣A1234警", "赣", "A", "police", "white", False)),
    ("浙O1234警", "白", Plate("浙O1234警", "浙", "O", "police", "white", False)),
    ("苏AA123警", None, Plate("苏AA123警", "苏", "A", "police", "white", False)),
    ("鲁B1234挂", None, Plate("鲁B1234挂", "鲁", "B", "trailer", "yellow", False)),
    ("粤Z1234港", "black", Plate("粤Z1234港", "粤", "Z", "hk_macau", "black", False)),
    ("粤Z123A澳", None, Plate("粤Z123A澳", "粤", "Z", "hk_macau", "black", False)),
    ("沪A0235领", "黑", Plate("沪A0235领", "沪", "A", "consular", "black", False)),
    ("使224001", None, Plate("使224001", "", "", "embassy", "black", False)),
    ("赣A1234应急", "white", Plate("赣A1234应急", "赣", "A", "emergency", "white", False)),
]


@pytest.mark.parametrize(("raw", "colour", "expected"), VALID)
def test_a_valid_plate_of_each_series_parses_to_its_fields(
    raw: str, colour: str | None, expected: Plate
) -> None:
    assert parse_plate(raw, colour) == expected


# (raw, camera colour, blamed position, words the message must contain)
INVALID: list[tuple[str, str | None, int | None, str]] = [
    ("XA12345", None, 1, "province"),
    ("台A12345", None, 1, "province"),
    ("赣I12345", None, 2, "issuing-authority"),
    ("赣O12345", None, 2, "only on police"),
    ("赣I1234警", None, 2, "issuing-authority"),
    ("赣112345", None, 2, "issuing-authority"),
    ("赣A1I345", None, 4, "I and O"),
    ("赣A12O45", None, 5, "I and O"),
    ("赣AABC12", None, 5, "at most 2 letters"),
    ("赣A1234", None, 7, "6 characters"),
    ("赣A1234567", None, 9, "9 characters"),
    ("赣A123456", None, 8, "D (electric) or F"),
    ("赣AX12345", None, 3, "D/A/B/C/E"),
    ("赣AI12345", None, 3, "I and O"),
    ("赣AD1A234", None, 5, "a digit"),
    ("赣AF1234A", None, 8, "a digit"),
    ("赣A123警", None, 6, "4 serial characters, got 3"),
    ("赣AAB1C警", None, 6, "at most 2 letters"),
    ("粤A1234港", None, 2, "only as 粤Z"),
    ("京Z1234澳", None, 1, "only as 粤Z"),
    ("粤Z12345", None, 2, "reserved for hk_macau"),
    ("沪A023A领", None, 6, "a digit"),
    ("使22400A", None, 7, "a digit"),
    ("使22400", None, 7, "6 serial characters, got 5"),
    ("赣A12B4应急", None, 5, "a digit"),
    ("赣A①2345", None, 3, "a digit or a letter"),
    ("", None, None, "empty"),
    ("赣AD12345", "blue", None, "colour blue is impossible for new_energy_small"),
    ("赣A12345D", "green", None, "expected yellow_green"),
    ("赣A12345", "green", None, "expected blue or yellow"),
    ("赣A12345", "white", None, "impossible for ordinary"),
    ("赣A1234警", "blue", None, "expected white"),
    ("粤Z1234港", "yellow", None, "expected black"),
    ("赣A12345", "purple", None, "unknown plate colour 'purple'"),
]


@pytest.mark.parametrize(("raw", "colour", "position", "words"), INVALID)
def test_an_invalid_read_names_the_broken_rule_and_its_position(
    raw: str, colour: str | None, position: int | None, words: str
) -> None:
    with pytest.raises(PlateError) as caught:
        parse_plate(raw, colour)
    assert caught.value.position == position
    assert words in str(caught.value)
    if position is not None:
        assert f"character {position} " in str(caught.value)


def test_a_plate_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="province"):
        parse_plate("AA12345")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (" 赣 A·12345 ", "赣A12345"),
        ("赣Ａ１２３４５", "赣A12345"),
        ("赣a12345", "赣A12345"),
        ("赣ａd12345", "赣AD12345"),
        ("赣A-D1234-5", "赣AD12345"),
        ("赣A•12345D", "赣A12345D"),
        ("\u3000浙O・1234警\t", "浙O1234警"),
        ("使 224－001", "使224001"),
    ],
)
def test_spacing_separators_width_and_case_are_normalised(raw: str, text: str) -> None:
    assert normalise(raw) == text
    assert parse_plate(raw).text == text


def test_normalisation_leaves_lookalike_symbols_alone() -> None:
    """① is not 1 and ﬀ is not FF: a wider mapping would invent plates out of stray symbols."""
    assert normalise("赣A①ﬀ345") == "赣A①ﬀ345"


@pytest.mark.parametrize(("word", "colour"), sorted(COLOURS.items()))
def test_every_colour_word_maps_to_its_colour(word: str, colour: str) -> None:
    plate = {
        "blue": "赣A12345",
        "yellow": "赣A12345",
        "green": "赣AD12345",
        "yellow_green": "赣A12345D",
        "white": "赣A1234警",
        "black": "沪A0235领",
    }[colour]
    assert parse_plate(plate, word).colour == colour


def test_colour_words_tolerate_case_spaces_hyphens_and_the_se_suffix() -> None:
    assert parse_plate("赣A12345D", " Yellow-Green ").colour == "yellow_green"
    assert parse_plate("赣A12345D", "yellow green").colour == "yellow_green"
    assert parse_plate("赣A12345", "蓝色").colour == "blue"


# --- property tests -----------------------------------------------------------------------------

_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_AUTHORITIES = st.sampled_from(_LETTERS)
_PROVINCE = st.sampled_from(sorted(PROVINCES))


def _unreserved(text: str) -> bool:
    """粤Z is reserved for 港/澳 plates: any other series under it is invalid."""
    return not text.startswith("粤Z")


_PLATE_ALPHABET = "".join(sorted(PROVINCES)) + _DIGITS + _LETTERS + "IOio使" + "".join(SUFFIXES) + " ·-Ａ１"


def _serial(length: int, max_letters: int) -> st.SearchStrategy[str]:
    """`length` digits with up to `max_letters` of them replaced by letters other than I and O."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chars = draw(st.lists(st.sampled_from(_DIGITS), min_size=length, max_size=length))
        spots = draw(st.lists(st.integers(0, length - 1), max_size=max_letters, unique=True))
        for spot in spots:
            chars[spot] = draw(st.sampled_from(_LETTERS))
        return "".join(chars)

    return build()


_ORDINARY = st.tuples(_PROVINCE, _AUTHORITIES, _serial(5, 2)).map("".join)
_NEV_SMALL = st.tuples(
    _PROVINCE,
    _AUTHORITIES,
    st.sampled_from("DABCEFGHJK"),
    st.sampled_from(_DIGITS + _LETTERS),
    st.text(_DIGITS, min_size=4, max_size=4),
).map("".join)
_NEV_LARGE = st.tuples(
    _PROVINCE, _AUTHORITIES, st.text(_DIGITS, min_size=5, max_size=5), st.sampled_from("DF")
).map("".join)
_MARKED = st.tuples(_PROVINCE, _AUTHORITIES, _serial(4, 2), st.sampled_from(["警", "学", "挂"])).map("".join)
_VALID = st.one_of(_ORDINARY, _NEV_SMALL, _NEV_LARGE, _MARKED).filter(_unreserved)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """A valid plate with one character replaced, inserted or deleted: reads that are nearly plates."""
    text = draw(_VALID)
    at = draw(st.integers(0, len(text) - 1))
    char = draw(st.sampled_from(_PLATE_ALPHABET))
    edit = draw(st.sampled_from(["replace", "insert", "delete"]))
    tail = {"replace": char + text[at + 1 :], "insert": char + text[at:], "delete": text[at + 1 :]}[edit]
    return text[:at] + tail


@given(
    raw=st.one_of(
        st.text(st.one_of(st.sampled_from(_PLATE_ALPHABET), st.characters()), max_size=12),
        _VALID,
        _mutated(),
    ),
    colour=st.one_of(st.none(), st.sampled_from(sorted(COLOURS)), st.text(max_size=4)),
)
def test_any_text_parses_idempotently_or_raises_only_plate_error(raw: str, colour: str | None) -> None:
    try:
        plate = parse_plate(raw, colour)
    except PlateError:
        return
    assert parse_plate(plate.text, plate.colour or None) == plate
    assert normalise(plate.text) == plate.text


@given(_VALID, st.sampled_from(["", " ", "·", "-"]))
def test_every_generated_valid_plate_parses_to_its_own_text(text: str, separator: str) -> None:
    spaced = text[:2] + separator + text[2:]
    plate = parse_plate(spaced.lower())
    assert plate.text == text
    assert (plate.province, plate.authority) == (text[0], text[1])
    assert plate.new_energy == (len(text) == 8)  # the generated marked plates have 7 characters
    assert plate.kind in {"ordinary", "new_energy_small", "new_energy_large", "police", "coach", "trailer"}


@given(_ORDINARY.filter(_unreserved), st.integers(2, 7), st.sampled_from("IO"))
def test_an_i_or_o_anywhere_in_a_serial_is_rejected_at_its_position(
    text: str, position: int, letter: str
) -> None:
    broken = text[: position - 1] + letter + text[position:]
    with pytest.raises(PlateError) as caught:
        parse_plate(broken)
    assert caught.value.position == position
