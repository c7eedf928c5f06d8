"""The official Bot API spec (shared/telegram/bot-api.json) as the emulator's rule book."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[2]


class ApiError(Exception):
    """An error answer as Telegram gives it: HTTP status, description, optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Method:
    name: str
    fields: dict[str, Field]


@dataclass(frozen=True)
class Spec:
    methods: dict[str, Method]  # keyed by lower-case name: Telegram's method names are case-insensitive
    types: dict[str, tuple[str, ...]]  # type name → its required field names
    type_fields: dict[str, tuple[str, ...]]  # type name → all its field names

    def method(self, name: str) -> Method | None:
        return self.methods.get(name.lower())


def spec_path() -> Path:
    override = os.environ.get("BOT_API_SPEC")
    return Path(override) if override else _REPO.parent / "shared" / "telegram" / "bot-api.json"


@cache
def load_spec(path: Path | None = None) -> Spec:
    data = json.loads((path or spec_path()).read_text(encoding="utf-8"))
    methods = {
        name.lower(): Method(name, {f["name"]: Field(f["name"], tuple(f["types"]), f["required"])
                                    for f in method.get("fields", [])})
        for name, method in data["methods"].items()
    }
    types = {name: tuple(f["name"] for f in t.get("fields", []) if f["required"]) for name, t in data["types"].items()}
    type_fields = {name: tuple(f["name"] for f in t.get("fields", [])) for name, t in data["types"].items()}
    return Spec(methods, types, type_fields)


def decode_params(method: Method, raw: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
    """Check names against the spec and decode each value by its declared type.

    Form fields arrive as strings (PTB JSON-encodes only non-string values), so a String field keeps its
    text as given ("42" stays "42") while Integer, Boolean, Float, arrays and objects are decoded.
    """
    params: dict[str, Any] = {}
    for name, value in raw.items():
        field = method.fields.get(name)
        if field is None:
            raise bad_request(f"unknown parameter {name}")
        params[name] = _decode(field, value)
    for name, upload in uploads.items():
        if name in method.fields:
            params[name] = upload
        # other parts are attach:// targets, kept in `uploads`
    for field in method.fields.values():
        if field.required and params.get(field.name) is None:  # "" is a value (text="" → "text is empty")
            raise bad_request(f"parameter {field.name} is required")
    return params


def _decode(field: Field, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    types = field.types
    if "String" in types and "Integer" in types:
        return int(value) if _is_int(value) else value
    if "String" in types or types == ("InputFile",):
        return value
    try:
        if types == ("Integer",):
            return int(value)
        if types == ("Float",) or types == ("Float", "Integer"):
            return float(value)
        if types == ("Boolean",):
            return _boolean(value)
        return json.loads(value)
    except (ValueError, TypeError):
        raise bad_request(f"can't parse {field.name}: wrong type") from None


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(text)


def missing_required(spec: Spec, type_name: str, obj: dict[str, Any]) -> list[str]:
    """Required fields of a Bot API type that `obj` lacks: the emulator's self-check of its results."""
    return [name for name in spec.types.get(type_name, ()) if name not in obj]
