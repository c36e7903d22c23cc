"""The certificate font: Noto Sans CJK SC cut from the ``noto-cjk-sans-otc`` wheel at install time.

Every glyph of a document comes from this one file, so a certificate looks the same (and is
byte-identical) on any machine, whatever fonts the system has. The OTC's face 2 is Simplified
Chinese (face 0 is Japanese). It is cut to the GBK character set (all 21 000 unified ideographs
of GB 13000, so rare characters in company names do not fall back to boxes) plus Latin,
punctuation and symbols, and saved under ``templates/fonts/`` (not committed: ~9 MB, rebuilt by
``make install`` or on first use). WeasyPrint then embeds only the glyphs each document uses.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from footprint.files import write_atomic

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FONT_FILE = TEMPLATES / "fonts" / "NotoSansSC-footprint.otf"
FACE_SC = 2  # Simplified Chinese in NotoSansCJK-Regular.ttc
FONT_VERSION = "gbk-1"  # bump when the character set changes; stored in the font's name table

EXTRA_RANGES = [
    (0x20, 0x24F),  # Basic Latin, Latin-1, Latin Extended-A/B
    (0x2000, 0x206F),  # general punctuation: – — ‘ ’ “ ” … ‰
    (0x2070, 0x209F),  # super- and subscripts: CO₂
    (0x2100, 0x218F),  # letterlike symbols, number forms
    (0x2190, 0x22FF),  # arrows, mathematical operators: ≤ ≥ ± ×
    (0x2460, 0x24FF),  # enclosed numbers
    (0x25A0, 0x25FF),  # geometric shapes ■ □
    (0x3000, 0x303F),  # CJK symbols and punctuation 。、「」
    (0xFF00, 0xFFEF),  # full-width forms （）：，
]


def charset() -> set[int]:
    """GBK's characters plus the extra ranges above."""
    chars = {c for lo, hi in EXTRA_RANGES for c in range(lo, hi + 1)}
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            try:
                chars.add(ord(bytes((lead, trail)).decode("gbk")))
            except UnicodeDecodeError:
                pass
    return chars


def source_font() -> Path:
    """The OTC of the ``noto-cjk-sans-otc`` wheel (OFL-1.1)."""
    import noto_cjk_sans_otc

    path = Path(noto_cjk_sans_otc.__file__).with_name("NotoSansCJK-Regular.ttc")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall the noto-cjk-sans-otc package")
    return path


def is_current(path: Path = FONT_FILE) -> bool:
    if not path.exists():
        return False
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return font["name"].getDebugName(5) == f"footprint {FONT_VERSION}"


def ensure_font(path: Path = FONT_FILE, quiet: bool = False) -> Path:
    """Build the font file unless a current one exists; atomic, so parallel builds are harmless."""
    if is_current(path):
        return path
    from fontTools import subset
    from fontTools.ttLib import TTFont

    if not quiet:
        print(f"footprint: building the CJK font {path} (once, ~40 s)", file=sys.stderr)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # print documents; smaller file
    font = TTFont(source_font(), fontNumber=FACE_SC)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=charset())
    subsetter.subset(font)
    font["name"].setName(f"footprint {FONT_VERSION}", 5, 3, 1, 0x409)
    buffer = io.BytesIO()
    font.save(buffer)
    write_atomic(path, buffer.getvalue())
    return path


if __name__ == "__main__":  # `make install` calls ensure_font() the same way
    print(ensure_font())
