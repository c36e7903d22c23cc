"""The certificate font: Noto Sans CJK SC cut from the ``noto-cjk-sans-otc`` wheel at install time.

Every glyph of a document comes from this one file, so a certificate looks the same (and is
byte-identical) on any machine, whatever fonts the system has. The OTC's face 2 is Simplified
Chinese (face 0 is Japanese). It is cut to the GBK character set (all 21 000 unified ideographs
of GB 13000, so rare characters in company names do not fall back to boxes) plus Latin,
punctuation and symbols, and saved under ``templates/fonts/`` (not committed: ~9 MB, rebuilt by
``make install`` or on first use). WeasyPrint then embeds only the glyphs each document uses.

WeasyPrint keeps glyph ids when it subsets, so an embedded subset holds an (empty) entry for every id
up to the highest one used. The glyphs are therefore reordered: Latin, punctuation and GB 2312's 3,755
common characters (with the glyphs their shaping reaches) come first, then GB 2312's symbols and
level-2 characters. A certificate's text stays under id ~4,200 (up to ~7,700 with a level-2
character such as 锂) instead of ~40,000: the demo certificates' font program is 83 KB, not 535.
Outlines, advances and shaping are those of the source font (``tests/test_fonts.py`` shapes text
with both).
The vertical-writing tables are dropped: documents are set horizontally only.
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
FONT_VERSION = "gbk-2"  # bump when the font's characters or glyph order change; stored in its name table

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
    return {c for lo, hi in EXTRA_RANGES for c in range(lo, hi + 1)} | set(
        _double_byte("gbk", range(0x81, 0xFF), range(0x40, 0xFF)))


def _double_byte(codec: str, leads: range, trails: range) -> list[int]:
    """The characters of a two-byte Chinese codec's codes, in code order."""
    found = []
    for lead in leads:
        for trail in trails:
            try:
                found.append(ord(bytes((lead, trail)).decode(codec)))
            except UnicodeDecodeError:
                pass
    return found


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
    from fontTools.ttLib.reorderGlyphs import reorderGlyphs

    if not quiet:
        print(f"footprint: building the CJK font {path} (once, ~1 min)", file=sys.stderr)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # print documents; smaller file
    options.drop_tables += list(VERTICAL_TABLES)
    font = TTFont(source_font(), fontNumber=FACE_SC, recalcTimestamp=False)  # same bytes on every machine
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=charset())
    subsetter.subset(font)
    order = glyph_order(font)
    top = font["CFF "].cff.topDictIndex[0]
    fd_of = dict(zip(font.getGlyphOrder(), top.FDSelect.gidArray, strict=True))
    reorderGlyphs(font, order)  # layout tables and charset; not the CID font's FDSelect:
    top.FDSelect.gidArray = [fd_of[name] for name in order]  # each glyph keeps its font dict (subroutines)
    font["name"].setName(f"footprint {FONT_VERSION}", 5, 3, 1, 0x409)
    buffer = io.BytesIO()
    font.save(buffer)
    write_atomic(path, buffer.getvalue())
    return path


def common_characters() -> list[list[int]]:
    """Characters in the order their glyphs take: ASCII; Latin-1, punctuation, sub- and superscripts,
    CJK punctuation and full-width forms; GB 2312's 3,755 level-1 (most used) characters; its symbols
    (℃, №, ①, Greek …); its 3,008 level-2 characters. Each in GB order."""
    def gb2312(leads: range) -> list[int]:
        return _double_byte("gb2312", leads, range(0xA1, 0xFF))

    latin = [c for lo, hi in ((0xA0, 0xFF), (0x2000, 0x209F), (0x3000, 0x303F), (0xFF00, 0xFF5E))
             for c in range(lo, hi + 1)]
    return [list(range(0x20, 0x7F)), latin, gb2312(range(0xB0, 0xD8)), gb2312(range(0xA1, 0xB0)),
            gb2312(range(0xD8, 0xF8))]


def glyph_order(font: Any) -> list[str]:
    """``.notdef``, then group by group of :func:`common_characters` their glyphs and the further glyphs
    shaping them in English and zh-CN reaches (``locl`` figures, ligatures), then the rest in the font's
    own order. (Shaping is followed in the source font's layout tables, whose glyph names ours keeps.)"""
    cmap = font.getBestCmap()
    order = [font.getGlyphOrder()[0]]
    groups = common_characters()
    for k, group in enumerate(groups):
        order += [cmap[c] for c in group if c in cmap]
        order += _reached([c for g in groups[:k + 1] for c in g])
    return list(dict.fromkeys(order + font.getGlyphOrder()))


def _reached(unicodes: list[int]) -> list[str]:
    """The source font's glyphs that ``unicodes`` map to or that shaping them can substitute."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    reached = TTFont(source_font(), fontNumber=FACE_SC)
    reached.getGlyphOrder()
    for tag in ("CFF ", "VORG", "hmtx", "vmtx", "GPOS", "BASE"):  # not needed to follow substitutions
        del reached[tag]
    for script in reached["GSUB"].table.ScriptList.ScriptRecord:  # the languages documents are set in
        script.Script.LangSysRecord = [r for r in script.Script.LangSysRecord if r.LangSysTag in LANGUAGES]
        script.Script.LangSysCount = len(script.Script.LangSysRecord)
    options = subset.Options()
    options.layout_features = SHAPING_FEATURES
    closure = subset.Subsetter(options)
    closure.populate(unicodes=unicodes)
    closure.subset(reached)
    return reached.getGlyphOrder()


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
    face = ffi.gc(harfbuzz_subset.hb_subset_or_fail(_source(font.hb_face), subset), harfbuzz.hb_face_destroy)
    if not face or harfbuzz.hb_face_get_glyph_count(face) != glyphs[-1] + 1:
        return False
    content = get_hb_object_data(face)
    if not content:
        return False
    font.file_content = content
    return True


def _source(hb_face: Any) -> Any:
    """The face to subset from: the font's own for a process's first document, then the preprocessed
    one. Preprocessing costs ~0.5 s of CPU and ~170 MiB once and saves ~10 ms a document, so a process
    that renders one certificate (a CLI run) does not pay for it; a batch or a server does, once."""
    from weasyprint.text.ffi import ffi

    key = int(ffi.cast("uintptr_t", hb_face))
    _SUBSETS[key] = _SUBSETS.get(key, 0) + 1
    return hb_face if _SUBSETS[key] < PREPROCESS_FROM and key not in _PREPROCESSED else _preprocessed(hb_face, key)


def _preprocessed(hb_face: Any, key: int) -> Any:
    """The face with HarfBuzz's subsetting tables made once per process (``hb_subset_preprocess``):
    a subset then takes ~1.5–3 ms instead of ~12 (it re-read the 9 MB font's tables every time), and
    HarfBuzz documents the result as the same. The source face is kept referenced, so its address
    cannot come to name another face. ``key``: the face's address."""
    from cffi import FFI
    from weasyprint.text.ffi import _dlopen, ffi, harfbuzz

    global _SUBSET
    if key not in _PREPROCESSED:
        if _SUBSET is None:
            declared = FFI()
            declared.include(ffi)  # WeasyPrint's hb_face_t, so its faces can be passed
            declared.cdef("hb_face_t *hb_subset_preprocess (hb_face_t *source);")
            _SUBSET = _dlopen(declared, *HARFBUZZ_SUBSET)
        kept = harfbuzz.hb_face_reference(hb_face)
        _PREPROCESSED[key] = (kept, _SUBSET.hb_subset_preprocess(kept))
    return _PREPROCESSED[key][1]


_SUBSET: Any = None
_PREPROCESSED: dict[int, tuple[Any, Any]] = {}  # hb_face address → (that face, kept alive; its preprocessed face)
_SUBSETS: dict[int, int] = {}  # hb_face address → documents subset from it so far
PREPROCESS_FROM = 2  # the document from which a process subsets from the preprocessed face
HARFBUZZ_SUBSET = ("libharfbuzz-subset-0", "harfbuzz-subset", "harfbuzz-subset-0.0", "libharfbuzz-subset.so.0",
                   "libharfbuzz-subset.0.dylib", "libharfbuzz-subset-0.dll")  # WeasyPrint's names for it
VERTICAL_TABLES = ("vhea", "vmtx", "VORG")
SHAPING_FEATURES = ["abvm", "blwm", "calt", "ccmp", "clig", "curs", "dist", "dnom", "frac", "kern", "liga", "locl",
                    "ltra", "ltrm", "mark", "mkmk", "numr", "rclt", "rlig", "rvrn", "tnum"]
# HarfBuzz's default features for horizontal text, plus tabular figures (documents.css ``.num``)
LANGUAGES = ("ZHS ",)  # OpenType's zh-CN; English is the default language system of each script
FAMILY = "Footprint Sans"  # documents.css's name for FONT_FILE
DROPPED_TABLES = (b"BASE", b"DSIG", b"EBDT", b"EBLC", b"EBSC", b"GPOS", b"GSUB", b"JSTF", b"LTSH", b"PCLT", b"SVG ")
# WeasyPrint 70's list (pdf/fonts.py, Font._harfbuzz_subset), sorted as it passes them


if __name__ == "__main__":  # `make install` calls ensure_font() the same way
    print(ensure_font())
