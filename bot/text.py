"""Vietnamese text handling: NFC normalisation, search folding (incl. đ→d), phone numbers, HTML."""

from __future__ import annotations

import html
import re
import unicodedata

_MOBILE = re.compile(r"^0(3[2-9]|5[2689]|7[06-9]|8[1-5]|9[0-4689])\d{7}$")
_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]")
# Abbreviations workers type, expanded after folding so both spellings meet.
ABBREVIATIONS = {
    "bhxh": "bao hiem xa hoi",
    "bhyt": "bao hiem y te",
    "bhtn": "bao hiem that nghiep",
    "cty": "cong ty",
    "nld": "nguoi lao dong",
    "ko": "khong",
    "k": "khong",
    "dc": "duoc",
    "hcm": "ho chi minh",
    "tphcm": "thanh pho ho chi minh",
    "tp": "thanh pho",
    "hn": "ha noi",
    "kcn": "khu cong nghiep",
    "cd": "cong doan",
    "cdcs": "cong doan co so",
}


def nfc(text: str) -> str:
    """Normalise to NFC and trim; every piece of user input passes through here first."""
    return unicodedata.normalize("NFC", text).strip()


def fold(text: str) -> str:
    """A search key: lower case, no tone or vowel marks, đ→d, punctuation gone, spaces collapsed.

    NFD does not decompose đ/Đ, hence the explicit mapping.
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = _NON_WORD.sub(" ", stripped.lower())
    return _SPACES.sub(" ", cleaned).strip()


def expand_abbreviations(folded: str) -> str:
    return " ".join(ABBREVIATIONS.get(word, word) for word in folded.split())


def search_key(text: str) -> str:
    """Folded text with common abbreviations expanded: what search compares."""
    return expand_abbreviations(fold(text))


def normalise_phone(raw: str) -> str | None:
    """A Vietnamese mobile number as E.164 (+84…), or None when it is not one."""
    digits = re.sub(r"[\s.\-()]", "", nfc(raw))
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not _MOBILE.match(digits):
        return None
    return "+84" + digits[1:]


def escape(text: str) -> str:
    """Escape user-written text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split text into Telegram-sized parts, preferring paragraph, then line, then word breaks.

    Telegram counts UTF-16 code units; Vietnamese text is in the BMP, so len() is exact for it, and
    characters outside the BMP are counted twice here to stay safe.
    """
    parts: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        cut = _best_cut(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _best_cut(text: str, limit: int) -> int:
    window = text[:limit]
    while _utf16_len(window) > limit:
        window = window[:-1]
    for separator in ("\n\n", "\n", " "):
        index = window.rfind(separator)
        if index > limit // 2:
            return index + len(separator)
    return len(window)


_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"  # not user text: the collation order
_LETTER_MARKS = {"\u0306": "ă", "\u0302": "^", "\u031b": "+"}  # breve, circumflex, horn
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền, hỏi, ngã, sắc, nặng
_WITH_MARK = {("a", "ă"): "ă", ("a", "^"): "â", ("e", "^"): "ê", ("o", "^"): "ô", ("o", "+"): "ơ", ("u", "+"): "ư"}


def vietnamese_sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dictionary order for Vietnamese: a < ă < â < b … d < đ …, then tones (ngang, huyền, hỏi, ngã, sắc, nặng).

    What ICU's `vi` collation does for ordinary names, without needing ICU.
    """
    letters: list[int] = []
    tones: list[int] = []
    for char in unicodedata.normalize("NFC", text).lower():
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        letter = base
        tone = 0
        for mark in marks:
            if mark in _LETTER_MARKS:
                letter = _WITH_MARK.get((base, _LETTER_MARKS[mark]), base)
            tone = _TONES.get(mark, tone)
        position = _ALPHABET.find(letter)
        letters.append(-1 if letter.isspace() else position if position >= 0 else 100 + ord(letter))
        tones.append(tone)
    return tuple(letters), tuple(tones)
