"""Links from the data or the URL never become clickable (issue 15, item 7).

Unit attacks on :mod:`present.escape` (rendered with a real CommonMark parser, plus GitHub's
autolink rules), then the app itself on an export whose force, team and survey item names
carry links: no Markdown element and no Plotly figure holds a live link.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

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
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"


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


# --------------------------------------------------------------------------- the app


EVIL_FORCE = 'Durham [click](https://evil.example) <a href="https://evil.example/x">www.evil.example</a>'
LIVE = re.compile(r"(?i)(https?://|www\.)evil\.example")


@pytest.fixture(scope="module")
def evil_export(tmp_path_factory) -> Path:
    """data/sample with a force and a team named to carry links. (A survey item's name comes
    from its ``q_`` column, which the catalogue allows only as lower-case letters, digits and
    ``_``, so it cannot carry a URL into the app; :func:`md` and :func:`plotly` are attacked
    with such names above.)"""
    import shutil

    import pyarrow.parquet as pq

    out = tmp_path_factory.mktemp("evil") / "export"
    shutil.copytree(SAMPLE, out)
    for path in out.glob("*.parquet"):
        table = pq.read_table(path).to_pandas()
        if "force" in table.columns:
            table["force"] = table["force"].astype(object).replace("Durham Constabulary",
                                                                   EVIL_FORCE)
        if "team" in table.columns:
            teams = sorted(table["team"].dropna().astype(str).unique())
            table["team"] = table["team"].astype(object).replace(teams[0], EVIL_TEAM)
        table.to_parquet(path, index=False)
    return out


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def live_links(at) -> list[str]:
    """Every place in the rendered app where evil.example is a link or an autolink."""
    found = []
    kinds = ("markdown", "caption", "warning", "error", "info", "success", "title", "header",
             "subheader", "latex", "text")
    for kind in kinds:
        for el in getattr(at, kind, []):
            text = str(getattr(el, "value", "") or getattr(el, "body", ""))
            rendered = render(text)
            plain = html.unescape(re.sub(r"<[^>]+>", "", rendered))
            if re.search(r"<a [^>]*evil", rendered) or LIVE.search(plain):
                found.append(f"{kind}: {text[:120]}")
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        for s in _strings(spec):  # Plotly links only through its <a href> tag
            if re.search(r"(?i)<a[\s>]", s):
                found.append(f"plotly: {s[:120]}")
    for el in at.get("html"):  # raw HTML is never autolinked: only a real anchor would link
        body = str(el.proto.body)
        # (the deck's own links are relative, with the force URL-encoded in their query)
        if re.search(r"(?is)href\s*=\s*[\"']?\s*(?:(?:https?:)?//|www\.)[^\"'>\s]*evil", body):
            found.append(f"html: {body[:120]}")
    return found


def _app(monkeypatch, data: Path, **query: str):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    monkeypatch.setenv("FLIGHTDECK_DATA", str(data))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def _shown_everywhere(at) -> str:
    return " ".join(str(getattr(el, "value", "")) for kind in ("markdown", "caption",
                    "warning", "header", "subheader", "info") for el in getattr(at, kind, []))


def test_a_link_in_the_url_is_not_a_link_in_the_warning(monkeypatch, evil_export):
    at = _app(monkeypatch, evil_export, force="[click](https://evil.example)")
    at.run()
    assert not at.exception
    assert "click" in _shown_everywhere(at)  # the bad parameter is reported...
    assert live_links(at) == []  # ...as text


@pytest.mark.parametrize("page", ["flight_deck", "trends", "victim_voice", "compare_forces"])
def test_names_from_the_data_are_never_live_links(monkeypatch, evil_export, page):
    at = _app(monkeypatch, evil_export, force=EVIL_FORCE)
    at.session_state["fd_breakdown"] = "team"  # the Trends breakdown by team
    at.run()
    if page != "flight_deck":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert live_links(at) == []
    if page == "trends":
        specs = " ".join(el.proto.spec for el in at.get("plotly_chart"))
        assert "Re-authenticate here" in specs or "Re-authenticate here" in _shown_everywhere(at)


def test_a_survey_column_named_with_a_link_is_a_warning_not_a_crash(monkeypatch, tmp_path):
    """A ``q_`` column's name becomes a KPI id and a label: one carrying a URL is refused by
    validation (a plain-words warning), and every page still draws."""
    import shutil

    import pyarrow.parquet as pq

    from metrics.load import load_dataset

    out = tmp_path / "export"
    shutil.copytree(SAMPLE, out)
    path = out / "survey_responses.parquet"
    table = pq.read_table(path)
    item = next(n for n in table.column_names if n.startswith("q_"))
    evil = "q_[login](https://evil.example)"
    pq.write_table(table.rename_columns([evil if n == item else n
                                         for n in table.column_names]), path)
    report = load_dataset(out).report
    assert report.usable
    assert [p.rule for p in report.warnings] == ["survey_item_name"]
    assert "evil" not in " ".join(p.message for p in report.problems)
    at = _app(monkeypatch, out)
    at.run()
    for page in ("victim_voice", "definitions"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.message for e in at.exception]
        assert live_links(at) == []
