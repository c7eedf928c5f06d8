"""Telegram's formatting rules, as the emulator applies them to what bots send."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import MessageEntity
from telegram.constants import ParseMode
from telegram.error import BadRequest

from sandbox.emulator.markup import parse_html, parse_markdown, parse_markdown_v2, utf16_len
from sandbox.emulator.spec import ApiError


def shape(entities: list[dict]) -> list[tuple]:
    return [(e["type"], e["offset"], e["length"]) for e in entities]


@pytest.mark.parametrize(("source", "text", "entities"), [
    ("<b>Lương</b> &amp; <i>thưởng</i>", "Lương & thưởng", [("bold", 0, 5), ("italic", 8, 6)]),
    ("<B>x</>", "x", [("bold", 0, 1)]),  # tags are case-insensitive, </> closes the innermost
    ("<strong>a</strong><em>b</em><ins>c</ins><del>d</del><strike>e</strike><s>f</s><u>g</u>", "abcdefg",
     [("bold", 0, 1), ("italic", 1, 1), ("underline", 2, 1), ("strikethrough", 3, 1), ("strikethrough", 4, 1),
      ("strikethrough", 5, 1), ("underline", 6, 1)]),
    ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st", [("spoiler", 0, 1), ("spoiler", 1, 1)]),
    ("<blockquote expandable>q</blockquote><blockquote>r</blockquote>", "qr",
     [("expandable_blockquote", 0, 1), ("blockquote", 1, 1)]),
    ("&lt;&gt;&quot;&#65;&#x42;&amp a > b &nbsp;", '<>"AB& a > b &nbsp;', []),  # only Telegram's entities
    ("😀<b>😀</b>", "😀😀", [("bold", 2, 2)]),  # offsets in UTF-16 code units
    ("\n  <b>hi</b> \n", "hi", [("bold", 0, 2)]),  # Telegram trims the text
    ("<b></b>x", "x", []),  # empty entities are dropped
])
def test_html(source, text, entities):
    parsed_text, parsed_entities = parse_html(source)
    assert parsed_text == text and shape(parsed_entities) == entities


def test_html_links_code_and_mentions():
    text, entities = parse_html('<a href="https://congdoan.vn/a?b=1&amp;c=2">site</a> <a>https://x.org</a> '
                                '<a href="tg://user?id=7">Lan</a> <pre><code class="language-python">x = 1</code>'
                                '</pre> <code class="language-sql">select</code>',
                                users=lambda i: {"id": i, "is_bot": False, "first_name": "Lan"})
    assert text == "site https://x.org Lan x = 1 select"
    assert entities[0] == {"type": "text_link", "offset": 0, "length": 4, "url": "https://congdoan.vn/a?b=1&c=2"}
    assert entities[1]["url"] == "https://x.org"
    assert entities[2]["type"] == "text_mention" and entities[2]["user"]["id"] == 7
    assert entities[3] == {"type": "pre", "offset": 23, "length": 5, "language": "python"}
    assert entities[4] == {"type": "code", "offset": 29, "length": 6}


@pytest.mark.parametrize(("source", "error"), [
    ("a < b", 'Unsupported start tag ""'),
    ("<b>open", "Can't find end tag corresponding to start tag b"),
    ("<blink>x</blink>", 'Unsupported start tag "blink"'),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("</b>", "Unexpected end tag"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ("<b", "Unclosed start tag"),
    ("<br>", 'Unsupported start tag "br"'),
    ('<a href="x>y', "Unclosed start tag"),
])
def test_bad_html(source, error):
    with pytest.raises(ApiError) as caught:
        parse_html(source)
    assert caught.value.status == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert error in caught.value.description


def test_markdown_v2():
    text, entities = parse_markdown_v2(r"*bold* _it_ __u__ ~s~ ||sp|| `co\`de` [link](https://x.org/a\)b) 1\.5"
                                       "\n```python\nprint(1)\n```")
    assert text == "bold it u s sp co`de link 1.5\nprint(1)"
    assert shape(entities) == [("bold", 0, 4), ("italic", 5, 2), ("underline", 8, 1), ("strikethrough", 10, 1),
                               ("spoiler", 12, 2), ("code", 15, 5), ("text_link", 21, 4), ("pre", 30, 8)]
    assert entities[6]["url"] == "https://x.org/a)b" and entities[7]["language"] == "python"
    assert shape(parse_markdown_v2(">a\n>b\nc")[1]) == [("blockquote", 0, 3)]
    for bad in ("1.5", "*open", "_a *b_ c*", "[x](http://y", "`x"):
        with pytest.raises(ApiError, match="can't parse entities"):
            parse_markdown_v2(bad)


def test_legacy_markdown():
    text, entities = parse_markdown("*b* _i_ `c` [t](http://x.y) 1.5!")
    assert text == "b i c t 1.5!"
    assert shape(entities) == [("bold", 0, 1), ("italic", 2, 1), ("code", 4, 1), ("text_link", 6, 1)]
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_markdown("*open")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;#x0aAbiuspre=\"' -tg:lq\n😀đ")), max_size=40))
def test_any_html_either_parses_or_is_a_400(source):
    try:
        text, entities = parse_html(source)
    except ApiError as error:
        assert error.status == 400
        return
    for entity in entities:
        assert entity["length"] > 0 and 0 <= entity["offset"] and entity["offset"] + entity["length"] <= \
            utf16_len(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("*_~|`[]()\\.>!\n a😀")), max_size=30))
def test_any_markdown_v2_either_parses_or_is_a_400(source):
    try:
        parse_markdown_v2(source)
    except ApiError as error:
        assert error.status == 400


async def test_parse_modes_through_ptb(emu, bot):
    user = emu.create_user()
    message = await bot.send_message(user.id, r"*Lương* tăng 5\.5%", parse_mode=ParseMode.MARKDOWN_V2)
    assert message.text == "Lương tăng 5.5%" and message.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="(?i)can.t parse entities"):
        await bot.send_message(user.id, "5.5%", parse_mode=ParseMode.MARKDOWN_V2)
    # explicit entities win over parse_mode, as in Telegram
    entity = {"type": "italic", "offset": 0, "length": 2}
    plain = await bot.send_message(user.id, "<b>", entities=[MessageEntity(**entity)])
    assert plain.text == "<b>" and plain.entities[0].type == "italic"
    photo = await bot.send_photo(user.id, b"img", caption="<i>Ảnh</i>", parse_mode=ParseMode.HTML)
    assert photo.caption == "Ảnh" and photo.caption_entities[0].type == "italic"
