"""Chinese mainland licence plates (号牌号码): normalise a camera or keyboard read and check it against
the numbering rules, so that a charge is never bound to a read that cannot be a real plate.

Why: pay-later parking bills the account bound to a plate after the car has left; a misread plate
would bill a stranger. A read that breaks the rules must hold the barrier for a manual check
(anchors-governance section 3.1, design rule 3). Every rule is a table below; `parse_plate` walks them.

Sources. GA 36-2018 itself is not freely published, so the rules come from consistent secondary
summaries of it (pcauto.com.cn on new-energy plates; autohome.com.cn on 应急 and embassy plates;
yoojia.com on 使/领 plates; several public plate validators agree on the new-energy pattern):
- serial letters never include I or O (they read as 1 and 0); an ordinary five-character serial holds
  at most two letters ("序号中允许出现2位英文字母") - applied conservatively to the 4-character serials
  of 警/学/挂/港/澳 plates too;
- small new-energy (green): D (electric) or F (other new energy), then a letter or digit, then four
  digits; where a city runs out, A/B/C/E continue D and G/H/J/K continue F (2021 extension: secondary
  sources only, not confirmed in the standard's text);
- large new-energy (yellow-green): five digits then D or F;
- 警 (white): the authority letter may be O (a provincial police department, 浙O1234警), nowhere else;
- 港/澳 (black): only 粤Z, which is reserved for them; 领 (black): four digits; 使 (black): 使 first,
  then a 3-digit country code and a 3-digit serial (使224001); 应急 (white, 2018): a team letter,
  four digits and 应急, eight characters.
Not accepted (a manual check instead): military and armed-police plates (no province prefix), the
historic blue 京O-style plates, black 外籍 7-character plates, temporary and motorcycle plates.

Positions in messages count characters of the normalised text from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
DIGITS = frozenset("0123456789")
LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")  # no I, O anywhere in a serial or authority code
ALNUM = DIGITS | LETTERS
POLICE_AUTHORITIES = LETTERS | {"O"}
NEV_SMALL_FIRST = frozenset("DABCEFGHJK")  # D then A/B/C/E: electric; F then G/H/J/K: other
NEV_LARGE_LAST = frozenset("DF")
EMBASSY_MARK = "使"

_Slot = tuple[frozenset[str], str]  # the characters allowed at one serial position, and their name
_DIGIT: _Slot = (DIGITS, "a digit")
_ALNUM: _Slot = (ALNUM, "a digit or a letter other than I and O")


@dataclass(frozen=True)
class _Shape:
    """One plate series: its serial, colours, and who may issue it."""

    kind: str
    serial: tuple[_Slot, ...]
    colours: tuple[str, ...]  # the first is the default when the camera gives no colour, if alone
    new_energy: bool = False
    max_letters: int = 6
    authorities: frozenset[str] = LETTERS
    prefix: str = ""  # the only province + authority that issues the series ("" = any)


ORDINARY = _Shape("ordinary", (_ALNUM,) * 5, ("blue", "yellow"), max_letters=2)
NEV_SMALL = _Shape(
    "new_energy_small",
    ((NEV_SMALL_FIRST, "D/A/B/C/E (electric) or F/G/H/J/K (other new energy)"), _ALNUM, *(_DIGIT,) * 4),
    ("green",),
    new_energy=True,
)
NEV_LARGE = _Shape(
    "new_energy_large",
    (*(_DIGIT,) * 5, (NEV_LARGE_LAST, "D (electric) or F (other new energy)")),
    ("yellow_green",),
    new_energy=True,
)
_HK_MACAU = _Shape("hk_macau", (_ALNUM,) * 4, ("black",), max_letters=2, prefix="粤Z")
# series marked by trailing Chinese characters; longest first so 应急 is not read as a one-char mark
SUFFIXES: dict[str, _Shape] = {
    "应急": _Shape("emergency", (_DIGIT,) * 4, ("white",)),
    "警": _Shape("police", (_ALNUM,) * 4, ("white",), max_letters=2, authorities=POLICE_AUTHORITIES),
    "学": _Shape("coach", (_ALNUM,) * 4, ("yellow",), max_letters=2),
    "挂": _Shape("trailer", (_ALNUM,) * 4, ("yellow",), max_letters=2),
    "港": _HK_MACAU,
    "澳": _HK_MACAU,
    "领": _Shape("consular", (_DIGIT,) * 4, ("black",)),
}
EMBASSY = _Shape("embassy", (_DIGIT,) * 6, ("black",))
# a province + authority pair reserved for the series that name it as their prefix
RESERVED_PREFIXES: dict[str, str] = {_HK_MACAU.prefix: _HK_MACAU.kind}

COLOURS: dict[str, str] = {
    **{c: c for c in ("blue", "yellow", "green", "yellow_green", "white", "black")},
    **{"蓝": "blue", "黄": "yellow", "绿": "green", "渐变绿": "green", "黄绿": "yellow_green"},
    **{"白": "white", "黑": "black"},
}

# separators people and cameras put inside plates; full-width and lower-case letters and digits
_DROPPED = "·•・‧-‐‑–—－"
_WIDE = {chr(0xFF10 + i): str(i) for i in range(10)}
_UPPER = {chr(base + i): chr(0x41 + i) for base in (0x61, 0xFF21, 0xFF41) for i in range(26)}
_NORMALISE = str.maketrans({**_WIDE, **_UPPER, **dict.fromkeys(_DROPPED)})


class PlateError(ValueError):
    """A read that is not a valid plate; `position` is the 1-based character, when one is to blame."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Plate:
    """A valid plate. `colour` is "" when the camera gave none and the series has two (ordinary blue
    small-car or yellow large-car plates): the same number may exist in both, so a key needs both."""

    text: str
    province: str
    authority: str
    kind: str
    colour: str
    new_energy: bool


def normalise(raw: str) -> str:
    """Drop whitespace and separators, make full-width characters half-width, upper-case letters.
    Only these mappings: a wider one (NFKC, str.upper) would turn stray symbols such as ① into plates."""
    return "".join(raw.split()).translate(_NORMALISE)


def parse_plate(raw: str, colour: str | None = None) -> Plate:
    """The plate in `raw` (any spacing, width or case), checked against `colour` when the camera gave
    one (English or Chinese word); PlateError naming the first broken rule otherwise."""
    if not isinstance(raw, str):
        raise PlateError(f"a plate is text, got {type(raw).__name__}")
    text = normalise(raw)
    if not text:
        raise PlateError("empty plate")
    if text[0] == EMBASSY_MARK:
        shape, serial, province, authority, serial_start = EMBASSY, text[1:], "", "", 2
    else:
        shape, serial = _series(text)
        province, authority, serial_start = text[0], text[1], 3
        _check_issuer(text, shape)
    _check_serial(text, shape, serial, serial_start)
    return Plate(text, province, authority, shape.kind, _colour(text, shape, colour), shape.new_energy)


def _series(text: str) -> tuple[_Shape, str]:
    """The series and its serial, from the trailing mark or, unmarked, from the length and serial."""
    if text[0] not in PROVINCES:
        raise _fail(text, 1, "not a province abbreviation")
    body = text[2:]
    for mark, shape in SUFFIXES.items():
        if body.endswith(mark):
            return shape, body[: -len(mark)]
    if len(body) == len(ORDINARY.serial):
        return ORDINARY, body
    if len(body) == len(NEV_SMALL.serial):
        return (NEV_LARGE if body[0] in DIGITS else NEV_SMALL), body
    # blame the first missing character, or the first one too many
    raise _fail(text, min(len(text) + 1, 9), f"{len(text)} characters; ordinary plates have 7, new-energy 8")


def _check_issuer(text: str, shape: _Shape) -> None:
    """The authority letter (position 2) and the prefixes reserved to one series."""
    if text[1] not in shape.authorities:
        why = "O is used only on police (警) plates" if text[1] == "O" else "must be a letter other than I, O"
        raise _fail(text, 2, f"issuing-authority code {why}")
    if shape.prefix and text[:2] != shape.prefix:
        position = 1 if text[0] != shape.prefix[0] else 2
        raise _fail(text, position, f"{shape.kind} plates are issued only as {shape.prefix}")
    reserved = RESERVED_PREFIXES.get(text[:2])
    if reserved is not None and reserved != shape.kind:
        raise _fail(text, 2, f"{text[:2]} is reserved for {reserved} plates")


def _check_serial(text: str, shape: _Shape, serial: str, start: int) -> None:
    """Every serial character against its slot, then the cap on letters; `start` is its position."""
    if len(serial) != len(shape.serial):
        why = f"{shape.kind} plates have {len(shape.serial)} serial characters, got {len(serial)}"
        raise _fail(text, start + min(len(serial), len(shape.serial)), why)
    for offset, (char, (allowed, name)) in enumerate(zip(serial, shape.serial, strict=True)):
        if char not in allowed:
            why = "the letters I and O are not used on plates" if char in "IO" else f"expected {name}"
            raise _fail(text, start + offset, why)
    letters = [offset for offset, char in enumerate(serial) if char in LETTERS]
    if len(letters) > shape.max_letters:
        why = f"{shape.kind} serials have at most {shape.max_letters} letters"
        raise _fail(text, start + letters[shape.max_letters], why)


def _fail(text: str, position: int, why: str) -> PlateError:
    """The error blaming one character (1-based; one past the end when a character is missing)."""
    found = repr(text[position - 1]) if position <= len(text) else "(missing)"
    return PlateError(f"character {position} {found} of {text!r}: {why}", position)


def _colour(text: str, shape: _Shape, colour: str | None) -> str:
    """The camera's colour in our words, if possible for the series; else the series' only colour."""
    if colour is None:
        return shape.colours[0] if len(shape.colours) == 1 else ""
    word = COLOURS.get(colour.strip().lower().removesuffix("色").replace("-", "_").replace(" ", "_"))
    if word is None:
        raise PlateError(f"unknown plate colour {colour!r}; known: {', '.join(sorted(COLOURS))}")
    if word not in shape.colours:
        expected = " or ".join(shape.colours)
        raise PlateError(f"colour {word} is impossible for {shape.kind} plate {text!r} (expected {expected})")
    return word
