"""The arrows point one way: pages -> ui -> present -> metrics; the core never reaches up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in ``path`` (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(package: str, *, skip: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in sorted((REPO / package).rglob("*.py"))
            if not any(p.relative_to(REPO).as_posix().startswith(s) for s in skip)]


# The CLI (python -m metrics) is a view: its board pack verb may reach the report package.
CORE = _files("metrics", skip=("metrics/__main__.py", "metrics/commands/"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.relative_to(REPO).as_posix())
def test_core_never_imports_streamlit_or_the_layers_above(path: Path) -> None:
    assert not _imports(path) & {"streamlit", "ui", "pages", "present", "report"}


@pytest.mark.parametrize("path", _files("present") + _files("report"),
                         ids=lambda p: p.relative_to(REPO).as_posix())
def test_presentation_and_board_pack_never_import_streamlit_or_the_screen(path: Path) -> None:
    assert not _imports(path) & {"streamlit", "ui", "pages"}
