"""Telegram's formatting: HTML and MarkdownV2 to plain text + entities, with Telegram's errors."""

from __future__ import annotations

import html
import re
from typing import Any

from sandbox.emulator.spec import bad_request

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)\s*(/?)>")
_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\u00a0"}
_SIMPLE = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
           "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
           "code": "code", "pre": "pre", "blockquote": "blockquote", "a": "text_link", "span": "spoiler",
           "tg-emoji": "custom_emoji", "tg-time": "date_time"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None) -> tuple[str, list]:
    """Plain text and entities, as Telegram stores a message; raises ApiError 400 like Telegram."""
    if not parse_mode:
        return text, list(entities or [])
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode in ("markdownv2", "markdown"):
        return parse_markdown(text)
    raise bad_request(f"unsupported parse_mode {parse_mode}")


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    length = 0  # in UTF-16 code units
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    position = 0
    while position < len(source):
        char = source[position]
        if char == "<":
            match = _TAG.match(source, position)
            if match is None:
                raise bad_request(f"can't parse entities: unsupported start tag at byte offset {position}")
            closing, tag, attrs, _ = match.groups()
            tag = tag.lower()
            if tag not in _SIMPLE:
                raise bad_request(f'can\'t parse entities: unsupported start tag "{tag}" at byte offset {position}')
            if closing:
                if not stack or stack[-1][0] != tag:
                    raise bad_request(f'can\'t parse entities: unmatched end tag at byte offset {position}, '
                                      f'expected "</{stack[-1][0] if stack else ""}>", found "</{tag}>"')
                _, start, extra = stack.pop()
                if length > start:
                    entities.append({"offset": start, "length": length - start, **extra})
            else:
                stack.append((tag, length, _entity_fields(tag, attrs, position)))
            position = match.end()
            continue
        if char == "&":
            match = _ENTITY.match(source, position)
            if match is not None:
                decoded = _decode_entity(match.group(1))
                if decoded is not None:
                    out.append(decoded)
                    length += utf16_len(decoded)
                    position = match.end()
                    continue
        out.append(char)
        length += utf16_len(char)
        position += 1
    if stack:
        raise bad_request(f'can\'t parse entities: can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity_fields(tag: str, attrs: str, position: int) -> dict[str, Any]:
    values = {m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
              for m in _ATTR.finditer(attrs or "")}
    kind = _SIMPLE[tag]
    if tag == "span" and values.get("class") != "tg-spoiler":
        raise bad_request(f'can\'t parse entities: unsupported start tag "span" at byte offset {position}')
    if tag == "a":
        if not values.get("href"):
            return {"type": "text_link", "url": ""}
        return {"type": "text_link", "url": values["href"]}
    if tag == "blockquote" and "expandable" in (attrs or ""):
        return {"type": "expandable_blockquote"}
    if tag == "tg-emoji":
        return {"type": kind, "custom_emoji_id": values.get("emoji-id", "0")}
    if tag == "pre":
        return {"type": "pre"}
    return {"type": kind}


def _decode_entity(name: str) -> str | None:
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED.get(name)


_MD_TOKENS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler", "`": "code",
              "```": "pre"}
_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Basic MarkdownV2: bold, italic, underline, strikethrough, spoiler, code, pre and escapes."""
    out: list[str] = []
    length = 0
    stack: list[tuple[str, int]] = []
    entities: list[dict[str, Any]] = []
    position = 0
    while position < len(source):
        char = source[position]
        if char == "\\" and position + 1 < len(source):
            out.append(source[position + 1])
            length += utf16_len(source[position + 1])
            position += 2
            continue
        token = next((t for t in ("```", "__", "||", "*", "_", "~", "`") if source.startswith(t, position)), None)
        if token is not None:
            if stack and stack[-1][0] == token:
                _, start = stack.pop()
                entities.append({"offset": start, "length": length - start, "type": _MD_TOKENS[token]})
            else:
                stack.append((token, length))
            position += len(token)
            continue
        if char in _MD_RESERVED:
            raise bad_request(f"can't parse entities: character '{char}' is reserved and must be escaped with "
                              "the preceding '\\'")
        out.append(char)
        length += utf16_len(char)
        position += 1
    if stack:
        raise bad_request(f"can't parse entities: can't find end of {_MD_TOKENS[stack[-1][0]]} entity")
    return "".join(out), entities
