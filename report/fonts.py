"""The pack's fonts: DejaVu Sans when installed (Unicode icons such as ▲ ◆), else Helvetica with
ASCII stand-ins; text escaping for ReportLab paragraphs; text widths in points."""

from __future__ import annotations

from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONTS = {"regular": "Helvetica", "bold": "Helvetica-Bold"}
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu",
              "/usr/local/share/fonts", "/Library/Fonts")
# Fallbacks for Helvetica (no Unicode glyphs) when DejaVu Sans is not installed.
_ASCII = str.maketrans({"▲": "^", "▼": "v", "●": "o", "◆": "<>", "■": "#", "↑": "+",
                        "↓": "-", "→": ">", "↕": "~", "−": "-", "–": "-", "·": "-",
                        "≥": ">=", "✔": "+", "✖": "x", "◷": "~", "○": "o"})


def register_fonts() -> None:
    """Use DejaVu Sans (regular and bold) when its files exist; else keep Helvetica."""
    if FONTS["regular"] == "DejaVuSans":
        return
    for folder in _FONT_DIRS:
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            try:
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
                pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
                # so that <b> in a paragraph picks the bold face
                pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans",
                                              bold="DejaVuSans-Bold", italic="DejaVuSans",
                                              boldItalic="DejaVuSans-Bold")
            except Exception:  # noqa: BLE001 - a broken font file: keep Helvetica
                return
            FONTS.update(regular="DejaVuSans", bold="DejaVuSans-Bold")
            return


def t(text: str) -> str:
    """Text safe for the font in use (ASCII stand-ins when only Helvetica is available)."""
    return text if FONTS["regular"] == "DejaVuSans" else text.translate(_ASCII)


def esc(text: object) -> str:
    """Escape text for a ReportLab Paragraph (it parses a little XML)."""
    return t(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` in points at ``size`` points in the pack's font."""
    return pdfmetrics.stringWidth(t(text), FONTS["bold" if bold else "regular"], size)
