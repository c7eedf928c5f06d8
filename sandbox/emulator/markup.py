"""Telegram's formatting: HTML, MarkdownV2 and legacy Markdown to plain text + entities, with Telegram's errors.

The HTML parser follows the Bot API server (tdlib's parse_html): tag names are case-insensitive, only the
documented tags are allowed, attributes may be quoted or bare name tokens, ``</>`` closes the innermost tag,
only ``&lt; &gt; &amp; &quot;`` and numeric character references are decoded (an unknown ``&name;`` stays as
text, and the ``;`` is optional), a bare ``<`` is an error, and ``<pre><code class="language-x">`` becomes
one ``pre`` entity with ``language``. Offsets and lengths are in UTF-16 code units. As Telegram does, the
resulting text is trimmed of leading and trailing whitespace (entities are shifted and clipped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.emulator.spec import bad_request

UserLookup = Callable[[int], dict[str, Any] | None]

_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre", "blockquote": "blockquote", "a": "text_link",
    "tg-emoji": "custom_emoji", "tg-time": "date_time",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\n\r\x0b\x0c"
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_USER_LINK = re.compile(r"tg://user\?id=(\d+)$")


def utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def parse(text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None,
          users: UserLookup | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities, as Telegram stores a message; raises ApiError 400 like Telegram.

    Explicit ``entities`` win over ``parse_mode`` (Telegram ignores the mode when entities are given)."""
    if entities:
        return trim(text, [dict(e) for e in entities if isinstance(e, dict)])
    if not parse_mode:
        return trim(text, [])
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text, users)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request(f"unsupported parse_mode {parse_mode}")


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Drop leading/trailing whitespace as Telegram does, keeping entities on the same characters."""
    stripped = text.strip(_SPACE)
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip(_SPACE))])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _error(detail: str) -> Exception:
    return bad_request(f"can't parse entities: {detail}")


def _byte_offset(source: str, position: int) -> int:
    return len(source[:position].encode("utf-8"))


def _html_entity(source: str, position: int) -> tuple[str, int] | None:
    """Decode a character reference at source[position] == '&'; None when it is not one Telegram knows."""
    end = position + 1
    if source.startswith("#", end):
        end += 1
        hexadecimal = source.startswith("x", end)
        if hexadecimal:
            end += 1
        digits_start = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(source) and source[end] in allowed:
            end += 1
        digits = source[digits_start:end]
        if not digits or end - position >= 10:
            return None
        code = int(digits, 16 if hexadecimal else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        char = _NAMED.get(source[position + 1:end])
        if char is None:
            return None
    if source.startswith(";", end):
        end += 1
    return char, end


def parse_html(source: str, users: UserLookup | None = None) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    length = 0  # in UTF-16 code units
    # open tags: (tag, utf16 offset where it starts, index into `out` where its text starts, attributes)
    stack: list[tuple[str, int, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    size = len(source)
    position = 0
    while position < size:
        char = source[position]
        if char == "&":
            decoded = _html_entity(source, position)
            if decoded is not None:
                out.append(decoded[0])
                length += utf16_len(decoded[0])
                position = decoded[1]
                continue
        if char != "<":
            # copy a run of plain characters at once
            next_special = position + 1
            while next_special < size and source[next_special] not in "<&":
                next_special += 1
            chunk = source[position:next_special]
            out.append(chunk)
            length += utf16_len(chunk)
            position = next_special
            continue
        begin = position
        position += 1
        if position < size and source[position] == "/":
            position = _close_tag(source, begin, position + 1, stack, entities, out, length, users)
            continue
        end = position
        while end < size and source[end] not in _SPACE and source[end] != ">":
            end += 1
        if end >= size:
            raise _error(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        tag = source[position:end].lower()
        if tag not in _HTML_TAGS:
            raise _error(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, begin)}')
        attributes, position = _attributes(source, begin, end, tag)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _error(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, begin)}')
        if tag == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
            raise _error(f'Custom emoji identifier must be specified at byte offset {_byte_offset(source, begin)}')
        stack.append((tag, length, len(out), attributes))
    if stack:
        raise _error(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # a lone <code class="language-x"> carries no language
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return trim("".join(out), entities)


def _attributes(source: str, begin: int, position: int, tag: str) -> tuple[dict[str, str], int]:
    """Parse the attributes of a start tag; returns them and the position after '>'."""
    attributes: dict[str, str] = {}
    size = len(source)
    while True:
        while position < size and source[position] in _SPACE:
            position += 1
        if position >= size:
            raise _error(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        if source[position] == ">":
            return attributes, position + 1
        name_start = position
        while position < size and source[position] not in _SPACE and source[position] not in "=>":
            position += 1
        name = source[name_start:position].lower()
        if not name:
            raise _error(f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(source, begin)}')
        while position < size and source[position] in _SPACE:
            position += 1
        if position < size and source[position] != "=":
            if tag == "blockquote" and name == "expandable":
                attributes[name] = ""
                continue
            raise _error(f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset '
                         f"{_byte_offset(source, begin)}")
        position += 1
        while position < size and source[position] in _SPACE:
            position += 1
        if position >= size:
            raise _error(f'Unclosed start tag "{tag}" at byte offset {_byte_offset(source, begin)}')
        quote = source[position]
        if quote in "'\"":
            position += 1
            value: list[str] = []
            while position < size and source[position] != quote:
                if source[position] == "&":
                    decoded = _html_entity(source, position)
                    if decoded is not None:
                        value.append(decoded[0])
                        position = decoded[1]
                        continue
                value.append(source[position])
                position += 1
            position += 1  # the closing quote
            attributes[name] = "".join(value)
        else:
            match = _NAME_TOKEN.match(source, position)
            assert match is not None
            position = match.end()
            if position < size and source[position] not in _SPACE and source[position] != ">":
                raise _error(f"Unexpected end of name token at byte offset {_byte_offset(source, match.start())}")
            attributes[name] = match.group().lower()


def _close_tag(source: str, begin: int, position: int, stack: list, entities: list[dict[str, Any]],
               out: list[str], length: int, users: UserLookup | None) -> int:
    if not stack:
        raise _error(f"Unexpected end tag at byte offset {_byte_offset(source, begin)}")
    size = len(source)
    end = position
    while end < size and source[end] not in _SPACE and source[end] != ">":
        end += 1
    name = source[position:end].lower()
    while end < size and source[end] in _SPACE:
        end += 1
    if end >= size or source[end] != ">":
        raise _error(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
    tag, start, text_index, attributes = stack.pop()
    if name and name != tag:
        raise _error(f'Unmatched end tag at byte offset {_byte_offset(source, begin)}, expected "</{tag}>", '
                     f'found "</{name}>"')
    if length > start:
        entity = _html_entity_for(tag, attributes, "".join(out[text_index:]), users)
        if entity is not None:
            _add_entity(entities, {"offset": start, "length": length - start, **entity})
    return end + 1


def _html_entity_for(tag: str, attributes: dict[str, str], inner: str,
                     users: UserLookup | None) -> dict[str, Any] | None:
    kind = _HTML_TAGS[tag]
    if tag == "a":
        url = attributes.get("href") or inner
        user_link = _USER_LINK.match(url)
        if user_link and users is not None:
            user = users(int(user_link.group(1)))
            if user is not None:
                return {"type": "text_mention", "user": user}
        if not re.match(r"(?i)^(https?|tg|ftp|mailto)://|^[\w.-]+\.[a-z]{2,}", url):
            return None  # Telegram drops links it cannot parse
        return {"type": "text_link", "url": url}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attributes else "blockquote"}
    if tag == "tg-emoji":
        return {"type": kind, "custom_emoji_id": attributes["emoji-id"]}
    if tag == "tg-time":
        entity: dict[str, Any] = {"type": kind, "unix_time": int(attributes.get("unix", "0") or 0)}
        if attributes.get("format"):
            entity["date_time_format"] = attributes["format"]
        return entity
    if tag == "code":
        language = attributes.get("class", "")
        return {"type": "code", "__language": language[9:]} if language.startswith("language-") else {"type": "code"}
    return {"type": kind}


def _add_entity(entities: list[dict[str, Any]], entity: dict[str, Any]) -> None:
    """Append, merging <pre><code class="language-x"> into one pre entity with a language as Telegram does."""
    language = entity.pop("__language", None)
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == entity["offset"] and last["length"] == entity["length"]
    if entity["type"] == "pre" and same_span and last["type"] == "code":
        entities[-1] = {"offset": entity["offset"], "length": entity["length"], "type": "pre"}
        if last.get("language"):
            entities[-1]["language"] = last["language"]
        return
    if entity["type"] == "code" and same_span and last["type"] == "pre":
        if language:
            last["language"] = language
        return
    if entity["type"] == "code" and language:
        entity["language"] = language  # kept only if a <pre> closes right around it (see above)
    entities.append(entity)


# ----- MarkdownV2 -----

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler",
               "`": "code", "```": "pre", "[": "text_link"}
_MDV2_TITLES = {"bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
                "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl"}


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """MarkdownV2: bold, italic, underline, strikethrough, spoiler, code, pre (with language), inline links,
    block quotes (``>`` lines, ``**>`` expandable) and backslash escapes, with Telegram's reserved characters."""
    out: list[str] = []
    length = 0
    stack: list[tuple[str, int, int]] = []  # token, utf16 start, byte offset in source
    entities: list[dict[str, Any]] = []
    quote: dict[str, Any] | None = None
    position = 0
    size = len(source)

    def emit(text: str) -> None:
        nonlocal length
        out.append(text)
        length += utf16_len(text)

    while position < size:
        at_line_start = position == 0 or source[position - 1] == "\n"
        if at_line_start and not stack:
            expandable = source.startswith("**>", position)
            if source.startswith(">", position) or expandable:
                if quote is None:
                    quote = {"offset": length, "type": "expandable_blockquote" if expandable else "blockquote"}
                elif expandable:
                    quote["type"] = "expandable_blockquote"
                position += 3 if expandable else 1
                continue
            if quote is not None:
                _close_quote(entities, quote, length - 1)  # the quote ends before the line break
                quote = None
        char = source[position]
        if char == "\\" and position + 1 < size and 0 < ord(source[position + 1]) < 127:
            emit(source[position + 1])
            position += 2
            continue
        if quote is not None and char == "|" and source.startswith("||", position) and \
                source[position + 2:position + 3] in ("", "\n") and not stack:
            quote["type"] = "expandable_blockquote"
            position += 2
            continue
        if char == "`":
            token = "```" if source.startswith("```", position) else "`"
            position, piece = _mdv2_code(source, position, token, length)
            emit(piece[0])
            entities.append(piece[1])
            continue
        if char == "[":
            stack.append(("[", length, _byte_offset(source, position)))
            position += 1
            continue
        if char == "]" and stack and stack[-1][0] == "[":
            _, start, _ = stack.pop()
            if not source.startswith("(", position + 1):
                raise _error("Character ']' is reserved and must be escaped with the preceding '\\'")
            url_end, url = _mdv2_url(source, position + 2)
            if length > start:
                entities.append({"type": "text_link", "offset": start, "length": length - start, "url": url})
            position = url_end
            continue
        token = next((t for t in ("__", "||", "*", "_", "~") if source.startswith(t, position)), None)
        if token is not None:
            open_index = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == token), None)
            if open_index is not None:
                if open_index != len(stack) - 1:
                    inner = stack[-1]
                    raise _error(f"Can't find end of {_MDV2_TITLES[_MDV2_NAMES[inner[0]]]} entity at byte "
                                 f"offset {inner[2]}")
                _, start, _ = stack.pop()
                if length > start:
                    entities.append({"type": _MDV2_NAMES[token], "offset": start, "length": length - start})
            else:
                stack.append((token, length, _byte_offset(source, position)))
            position += len(token)
            continue
        if char in _MDV2_RESERVED:
            raise _error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        emit(char)
        position += 1
    if stack:
        token, _, offset = stack[-1]
        raise _error(f"Can't find end of {_MDV2_TITLES[_MDV2_NAMES[token]]} entity at byte offset {offset}")
    if quote is not None:
        _close_quote(entities, quote, length)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return trim("".join(out), entities)


def _close_quote(entities: list[dict[str, Any]], quote: dict[str, Any], length: int) -> None:
    if length > quote["offset"]:
        entities.append({"type": quote["type"], "offset": quote["offset"], "length": length - quote["offset"]})


def _mdv2_code(source: str, position: int, token: str, length: int) -> tuple[int, tuple[str, dict[str, Any]]]:
    start_byte = _byte_offset(source, position)
    position += len(token)
    language = ""
    if token == "```":
        newline = source.find("\n", position)
        closing = source.find("```", position)
        if newline != -1 and (closing == -1 or newline < closing):
            language = source[position:newline]
            position = newline + 1
    text: list[str] = []
    while True:
        if position >= len(source):
            kind = "Pre" if token == "```" else "Code"
            raise _error(f"Can't find end of {kind} entity at byte offset {start_byte}")
        if source.startswith(token, position):
            position += len(token)
            break
        if source[position] == "\\" and position + 1 < len(source) and source[position + 1] in "`\\":
            text.append(source[position + 1])
            position += 2
            continue
        text.append(source[position])
        position += 1
    inner = "".join(text)
    entity: dict[str, Any] = {"type": "pre" if token == "```" else "code", "offset": length,
                              "length": utf16_len(inner)}
    if language:
        entity["language"] = language
    return position, (inner, entity)


def _mdv2_url(source: str, position: int) -> tuple[int, str]:
    url: list[str] = []
    while position < len(source) and source[position] != ")":
        if source[position] == "\\" and position + 1 < len(source):
            url.append(source[position + 1])
            position += 2
            continue
        url.append(source[position])
        position += 1
    if position >= len(source):
        raise _error("Can't find end of a URL")
    return position + 1, "".join(url)


# ----- legacy Markdown -----

_LEGACY = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}


def parse_markdown(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre``` and [text](url); no nesting, '\\' escapes
    only the markup characters."""
    out: list[str] = []
    length = 0
    entities: list[dict[str, Any]] = []
    position = 0
    size = len(source)
    while position < size:
        char = source[position]
        if char == "\\" and position + 1 < size and source[position + 1] in "_*`[":
            out.append(source[position + 1])
            length += 1
            position += 2
            continue
        if char not in "_*`[":
            out.append(char)
            length += utf16_len(char)
            position += 1
            continue
        begin_byte = _byte_offset(source, position)
        if char == "[":
            close = source.find("](", position + 1)
            end = source.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise _error(f"Can't find end of the entity starting at byte offset {begin_byte}")
            inner = source[position + 1:close]
            entities.append({"type": "text_link", "offset": length, "length": utf16_len(inner),
                             "url": source[close + 2:end]})
            out.append(inner)
            length += utf16_len(inner)
            position = end + 1
            continue
        token = "```" if source.startswith("```", position) else char
        end = source.find(token, position + len(token))
        if end == -1:
            raise _error(f"Can't find end of the entity starting at byte offset {begin_byte}")
        inner = source[position + len(token):end]
        language = ""
        if token == "```" and "\n" in inner:
            first, rest = inner.split("\n", 1)
            if first and " " not in first:
                language, inner = first, rest
        if inner:
            entity: dict[str, Any] = {"type": _LEGACY[token], "offset": length, "length": utf16_len(inner)}
            if language:
                entity["language"] = language
            entities.append(entity)
        out.append(inner)
        length += utf16_len(inner)
        position = end + len(token)
    return trim("".join(out), entities)
