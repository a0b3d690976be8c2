"""Links from the data or the URL never become clickable (issue 15, item 7).

Unit attacks on :mod:`present.escape` (rendered with a real CommonMark parser, plus GitHub's
autolink rules), then the app itself on an export whose force, team and survey item names
carry links: no Markdown element and no Plotly figure holds a live link.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from present.escape import ZWSP, md, plotly

EVIL_TEAM = '<a href="https://evil.example/login">Re-authenticate here</a>'
EVIL_ITEM = "Felt safe (details: https://evil.example/survey or www.evil.example)"
EVIL_PARAM = "[click](https://evil.example)"
ATTACKS = [
    EVIL_TEAM, EVIL_ITEM, EVIL_PARAM,
    "<https://evil.example>", "![x](https://evil.example/x.png)", "[x]: https://evil.example",
    "write to help@evil.example", "`code` **bold** _it_ ~~gone~~ $x^2$ # heading | a | b |",
    ":red[alert] :material/warning: <script>alert(1)</script>",
    "line one\nline two\r\n- list\n# heading", "    indented code", "&lt;a href=x&gt;",
    "javascript:alert(1)", "[a](<https://evil.example>)", "HTTPS://EVIL.EXAMPLE",
]
# GitHub's autolink literals (extended www, protocol and e-mail autolinks).
AUTOLINK = re.compile(r"(?i)(https?://|ftp://|www\.|mailto:|[\w.+-]+@[\w-]+\.\w)")
PARSER = MarkdownIt("commonmark")


def render(markdown: str) -> str:
    """HTML of a Markdown string, as CommonMark renders it."""
    return PARSER.render(markdown)


def visible(rendered_html: str) -> str:
    """The characters a reader sees: tags dropped, entities decoded, zero-width spaces gone."""
    text = re.sub(r"<[^>]+>", "", rendered_html)
    return html.unescape(text).replace(ZWSP, "").strip()


def assert_no_link(rendered_html: str) -> None:
    assert "<a " not in rendered_html and "<img" not in rendered_html, rendered_html
    assert not re.search(r"<(?!/?(p|strong)>)[a-z]", rendered_html), rendered_html
    assert not AUTOLINK.search(html.unescape(re.sub(r"<[^>]+>", "", rendered_html))), \
        rendered_html


@pytest.mark.parametrize("text", ATTACKS)
def test_md_renders_the_characters_and_no_link(text):
    out = render(md(text))
    assert_no_link(out)
    assert out.startswith("<p>") and out.count("<p>") == 1  # one paragraph: no heading, list
    assert visible(out) == " ".join(text.replace("\r\n", "\n").split("\n")).strip()


@pytest.mark.parametrize("text", ATTACKS)
def test_md_inside_a_sentence_of_the_app_stays_text(text):
    # As the app uses it: inside a warning about the URL, inside bold.
    out = render(f"The force **{md(text)}** is not in this export.")
    assert_no_link(out)
    assert out.count("<strong>") == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
               max_size=60))
def test_md_of_any_text_is_that_text_and_never_markup(text):
    out = render(md(text))
    assert "<a " not in out and "<img" not in out and "<em>" not in out
    assert "<strong>" not in out and "<code>" not in out and "<h" not in out
    assert visible(out) == text.strip() if text.strip() else True


def test_plotly_escapes_tags_and_entities():
    out = plotly(EVIL_TEAM)
    assert "<" not in out and ">" not in out
    assert out.startswith("&lt;a href=") and "&lt;/a&gt;" in out
    assert html.unescape(out).replace(ZWSP, "") == EVIL_TEAM
    assert plotly("R&D <b>x</b>") == "R&amp;D &lt;b&gt;x&lt;/b&gt;"
    assert plotly("a\nb<br>c") == "a b&lt;br&gt;c"  # no line break tag either
    assert not AUTOLINK.search(plotly(EVIL_ITEM))
    assert plotly(None) == "" and md(None) == ""


def test_control_and_direction_characters_are_dropped():
    assert md("Gwent\u202ePolice") == "GwentPolice"
    assert plotly("a\x00b\u2066c") == "abc"
