"""The 34 provinces since 1 July 2025, from the `vietnam-provinces` package, and matching typed names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process
from vietnam_provinces import Province

from bot.text import fold, vietnamese_sort_key

_PREFIXES = ("thanh pho ", "tinh ")
# What people type for a province that its name alone does not give.
_ALIASES = {
    "hcm": "ho chi minh", "tphcm": "ho chi minh", "tp hcm": "ho chi minh", "sai gon": "ho chi minh",
    "saigon": "ho chi minh", "sg": "ho chi minh", "tp ho chi minh": "ho chi minh",
    "hn": "ha noi", "tp ha noi": "ha noi", "tp hn": "ha noi", "hp": "hai phong", "dn": "da nang",
    "tp da nang": "da nang", "tp hue": "hue", "thua thien hue": "hue", "brvt": "ho chi minh",
}
_CUTOFF = 75.0


@dataclass(frozen=True)
class ProvinceInfo:
    code: int
    name: str
    short_name: str
    key: str


@cache
def all_provinces() -> tuple[ProvinceInfo, ...]:
    provinces = [_info(province) for province in Province.iter_all()]
    return tuple(sorted(provinces, key=lambda p: vietnamese_sort_key(p.short_name)))


def _info(province: Province) -> ProvinceInfo:
    short = province.name
    for prefix in ("Thành phố ", "Tỉnh "):  # not user text: parts of official names
        short = short.removeprefix(prefix)
    return ProvinceInfo(code=int(province.code), name=province.name, short_name=short, key=fold(short))


@cache
def _by_code() -> dict[int, ProvinceInfo]:
    return {province.code: province for province in all_provinces()}


def get_province(code: int) -> ProvinceInfo | None:
    return _by_code().get(code)


def is_valid_province(code: int) -> bool:
    return code in _by_code()


def match_provinces(typed: str, limit: int = 5) -> list[ProvinceInfo]:
    """Provinces matching a typed name, best first: no diacritics needed, abbreviations and typos ok."""
    query = fold(typed)
    for prefix in _PREFIXES:
        query = query.removeprefix(prefix)
    query = _ALIASES.get(query, query)
    if not query:
        return []
    exact = [p for p in all_provinces() if p.key == query]
    if exact:
        return exact
    keys = {p.code: p.key for p in all_provinces()}
    found = process.extract(query, keys, scorer=fuzz.WRatio, limit=limit, score_cutoff=_CUTOFF)
    if found and found[0][1] >= 95 and (len(found) == 1 or found[1][1] < found[0][1] - 5):
        return [get_province(found[0][2])]
    return [get_province(code) for _, _, code in found]
