"""Sectors from content/sectors.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import yaml

from bot import CONTENT_DIR


@dataclass(frozen=True)
class Sector:
    code: str
    names: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["vi"]


@lru_cache(maxsize=1)
def all_sectors() -> tuple[Sector, ...]:
    data = yaml.safe_load((CONTENT_DIR / "sectors.yaml").read_text(encoding="utf-8"))
    sectors = tuple(Sector(item["code"], {"vi": item["vi"], "en": item["en"]}) for item in data["sectors"])
    codes = [sector.code for sector in sectors]
    if len(set(codes)) != len(codes):
        raise ValueError("content/sectors.yaml: duplicate sector code")
    return sectors


def get_sector(code: str | None) -> Sector | None:
    return next((sector for sector in all_sectors() if sector.code == code), None)
