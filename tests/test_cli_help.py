"""Every ``python -m metrics`` verb's --help reads as written (argparse formats only a help
string, not a description or epilog, so a "%%" there is printed as it is)."""

from __future__ import annotations

import argparse

import pytest

from metrics.__main__ import build_parser


def _verbs(parser: argparse.ArgumentParser | None = None, prefix: str = ""
           ) -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser by its words ("funnel", "record migrate"), nested ones included."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[prefix + name] = sub
                out.update(_verbs(sub, f"{prefix}{name} "))
    return out


@pytest.mark.parametrize("verb", sorted(_verbs()))
def test_a_verbs_help_has_no_doubled_percent_signs(verb: str) -> None:
    text = _verbs()[verb].format_help()
    assert text.strip() and "%%" not in text


def test_the_funnel_help_names_its_two_limits() -> None:
    assert "(95% and 99.8%)" in " ".join(_verbs()["funnel"].format_help().split())
