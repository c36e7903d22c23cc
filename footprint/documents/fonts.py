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
from typing import Any

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


def subset_in_one_pass() -> None:
    """Let WeasyPrint subset the document font in one HarfBuzz pass instead of two, ~2.5× faster.

    WeasyPrint's second pass keeps glyphs 0 … highest used (to drop empty glyphs after the last one
    used); for this font the first pass, with glyph ids retained, already ends at the highest used glyph,
    so the second returns the same bytes (``tests/test_documents.py`` compares them for the glyphs of
    real certificates). Any other font, and this one whenever that does not hold, gets WeasyPrint's
    own two passes. Installed once per process, by the renderer."""
    from weasyprint.pdf.fonts import Font

    two_passes = Font._harfbuzz_subset
    if getattr(two_passes, "one_pass", False):
        return

    def harfbuzz_subset(font: Any, to_unicode: dict[int, str], hinting: bool) -> None:
        if font.family != FAMILY or not _one_pass(font, to_unicode, hinting):
            two_passes(font, to_unicode, hinting)

    harfbuzz_subset.one_pass = True  # type: ignore[attr-defined]
    Font._harfbuzz_subset = harfbuzz_subset


def _one_pass(font: Any, to_unicode: dict[int, str], hinting: bool) -> bool:
    from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset
    from weasyprint.text.fonts import get_hb_object_data

    subset = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(), harfbuzz_subset.hb_subset_input_destroy)
    glyphs = sorted(to_unicode)
    harfbuzz.hb_set_add_sorted_array(harfbuzz_subset.hb_subset_input_glyph_set(subset),
                                     ffi.new(f"hb_codepoint_t[{len(glyphs)}]", glyphs), len(glyphs))
    flags = (harfbuzz_subset.HB_SUBSET_FLAGS_RETAIN_GIDS | harfbuzz_subset.HB_SUBSET_FLAGS_PASSTHROUGH_UNRECOGNIZED
             | harfbuzz_subset.HB_SUBSET_FLAGS_DESUBROUTINIZE)
    if not hinting:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NO_HINTING
    if font.missing:
        flags |= harfbuzz_subset.HB_SUBSET_FLAGS_NOTDEF_OUTLINE
    harfbuzz_subset.hb_subset_input_set_flags(subset, flags)
    drop = tuple(harfbuzz.hb_tag_from_string(name, -1) for name in DROPPED_TABLES)
    harfbuzz.hb_set_add_sorted_array(
        harfbuzz_subset.hb_subset_input_set(subset, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG),
        ffi.new(f"hb_codepoint_t[{len(drop)}]", drop), len(drop))
    face = ffi.gc(harfbuzz_subset.hb_subset_or_fail(font.hb_face, subset), harfbuzz.hb_face_destroy)
    if not face or harfbuzz.hb_face_get_glyph_count(face) != glyphs[-1] + 1:
        return False
    content = get_hb_object_data(face)
    if not content:
        return False
    font.file_content = content
    return True


FAMILY = "Footprint Sans"  # documents.css's name for FONT_FILE
DROPPED_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")
# WeasyPrint 70's list (pdf/fonts.py, Font._harfbuzz_subset), sorted as it passes them


if __name__ == "__main__":  # `make install` calls ensure_font() the same way
    print(ensure_font())
