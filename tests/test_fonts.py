"""The certificate font (documents.fonts): reordered so common text has low glyph ids, and otherwise the
source font's glyphs, advances and shaping, checked against the source Noto Sans CJK SC itself."""

from __future__ import annotations

import pytest
from cffi import FFI

from footprint.documents import fonts

HB = """
typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t; typedef struct hb_font_t hb_font_t;
typedef struct hb_buffer_t hb_buffer_t; typedef const struct hb_language_impl_t *hb_language_t;
typedef uint32_t hb_tag_t; typedef uint32_t hb_codepoint_t; typedef int32_t hb_position_t; typedef uint32_t hb_mask_t;
typedef union { uint32_t u32; int32_t i32; uint16_t u16[2]; int16_t i16[2]; uint8_t u8[4]; int8_t i8[4]; } hb_var_int_t;
typedef struct { hb_codepoint_t codepoint; hb_mask_t mask; uint32_t cluster; hb_var_int_t var1; hb_var_int_t var2; }
  hb_glyph_info_t;
typedef struct { hb_position_t x_advance; hb_position_t y_advance; hb_position_t x_offset; hb_position_t y_offset;
  hb_var_int_t var; } hb_glyph_position_t;
typedef struct { hb_tag_t tag; uint32_t value; unsigned int start; unsigned int end; } hb_feature_t;
hb_blob_t *hb_blob_create_from_file(const char *file_name);
hb_face_t *hb_face_create(hb_blob_t *blob, unsigned int index);
hb_font_t *hb_font_create(hb_face_t *face);
hb_buffer_t *hb_buffer_create(void);
void hb_buffer_add_utf8(hb_buffer_t *buffer, const char *text, int text_length, unsigned int item_offset,
                        int item_length);
void hb_buffer_guess_segment_properties(hb_buffer_t *buffer);
hb_language_t hb_language_from_string(const char *str, int len);
void hb_buffer_set_language(hb_buffer_t *buffer, hb_language_t language);
void hb_shape(hb_font_t *font, hb_buffer_t *buffer, const hb_feature_t *features, unsigned int num_features);
hb_glyph_info_t *hb_buffer_get_glyph_infos(hb_buffer_t *buffer, unsigned int *length);
hb_glyph_position_t *hb_buffer_get_glyph_positions(hb_buffer_t *buffer, unsigned int *length);
void hb_buffer_destroy(hb_buffer_t *buffer);
hb_bool_t hb_feature_from_string(const char *str, int len, hb_feature_t *feature);
"""

TEXTS = [
    "AVAWAY To Ta Wa Yo fi fl ffi 1/2 0123456789 CO2e/kg ≤ ≥ ± × – — ‘ ’ “ ” … ‰",
    "DEMO-PCF-DEMO-PARK-2026-00005-G, 2.56 kg CO2e per kg; 95 % interval 1.71–3.87",
    "产品碳足迹证书（摇篮到大门）：本证书所列数值为声明单位产品的部分碳足迹。",
    "铝型材 6063、锂电池包 14 kWh、热水 90℃、蒸汽 1 MPa、№ ①②③ 「」『』《》",
    "数据质量 DQR 2.1；不确定度 ±12 %；一次数据占比 14.5 %；电力 0.5703 kgCO2e/kWh",
]


@pytest.fixture(scope="module")
def harfbuzz():
    ffi = FFI()
    ffi.cdef("typedef int hb_bool_t;" + HB)
    return ffi, ffi.dlopen("libharfbuzz.so.0")


def shaped(harfbuzz, path: str, index: int, glyph_names: list[str], text: str, language: str,
           features: str) -> list[tuple]:
    """HarfBuzz's shaping of ``text``: per glyph its name, advance, offsets and cluster."""
    ffi, hb = harfbuzz
    font = hb.hb_font_create(hb.hb_face_create(hb.hb_blob_create_from_file(path.encode()), index))
    buffer = hb.hb_buffer_create()
    data = text.encode()
    hb.hb_buffer_add_utf8(buffer, data, len(data), 0, len(data))
    hb.hb_buffer_set_language(buffer, hb.hb_language_from_string(language.encode(), -1))
    hb.hb_buffer_guess_segment_properties(buffer)
    wanted = [f for f in features.split(",") if f]
    feature_array = ffi.new(f"hb_feature_t[{max(len(wanted), 1)}]")
    for i, name in enumerate(wanted):
        assert hb.hb_feature_from_string(name.encode(), -1, ffi.addressof(feature_array[i]))
    hb.hb_shape(font, buffer, feature_array, len(wanted))
    count = ffi.new("unsigned int *")
    infos = hb.hb_buffer_get_glyph_infos(buffer, count)
    positions = hb.hb_buffer_get_glyph_positions(buffer, count)
    out = [(glyph_names[infos[i].codepoint], positions[i].x_advance, positions[i].y_advance, positions[i].x_offset,
            positions[i].y_offset, infos[i].cluster) for i in range(count[0])]
    hb.hb_buffer_destroy(buffer)
    return out


@pytest.fixture(scope="module")
def both():
    from fontTools.ttLib import TTFont

    fonts.ensure_font()
    ours = TTFont(fonts.FONT_FILE)
    source = TTFont(fonts.source_font(), fontNumber=fonts.FACE_SC, lazy=True)
    return ours, source


def test_shaping_is_the_source_fonts(harfbuzz, both):
    """Same glyphs (by name), advances, kerning and clusters as the source font, in the languages the
    documents use, with the default features and with tabular figures (documents.css ``.num``)."""
    ours, source = both
    for text in TEXTS:
        for language in ("en", "zh-CN"):
            for features in ("", "tnum"):
                mine = shaped(harfbuzz, str(fonts.FONT_FILE), 0, ours.getGlyphOrder(), text, language, features)
                theirs = shaped(harfbuzz, str(fonts.source_font()), fonts.FACE_SC, source.getGlyphOrder(), text,
                                language, features)
                assert mine == theirs, (text, language, features)
    kerned = shaped(harfbuzz, str(fonts.FONT_FILE), 0, ours.getGlyphOrder(), "AV", "en", "")
    assert kerned[0][1] < ours["hmtx"][kerned[0][0]][0]  # the check can see kerning: A before V is kerned


def test_outlines_are_the_source_fonts(both):
    """Each character's outline drawn from our font equals the source font's (hints removed only): a
    glyph given another font dict's subroutines (a reordering fault) draws differently."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen

    ours, source = both
    mine, theirs = ours.getGlyphSet(), source.getGlyphSet()
    cmap = ours.getBestCmap()
    assert all(ord(c) in cmap for c in "".join(TEXTS))
    sample = "".join(TEXTS) + "".join(chr(c) for c in sorted(cmap)[::5])  # a fifth of the font: ~5 s
    for char in sorted(c for c in set(sample) if ord(c) in cmap):
        name = cmap[ord(char)]
        assert source.getBestCmap()[ord(char)] == name
        pens = DecomposingRecordingPen(mine), DecomposingRecordingPen(theirs)
        mine[name].draw(pens[0])
        theirs[name].draw(pens[1])
        assert pens[0].value == pens[1].value, char
        assert pens[0].value or char.isspace() or not char.isprintable(), char  # the check draws something
        assert mine[name].width == theirs[name].width, char


def test_common_text_has_low_glyph_ids(both):
    """Each group's glyphs (those not in an earlier group) come after the earlier groups' glyphs: ASCII,
    Latin-1 and punctuation, GB 2312's level 1, its symbols, its level 2; all text of the first three
    groups stays under id 4,300 (WeasyPrint's subsets keep every id up to the highest used)."""
    ours, _ = both
    cmap = ours.getBestCmap()
    seen: set[int] = set()
    end = 0
    for k, group in enumerate(fonts.common_characters()):
        new = {ours.getGlyphID(cmap[c]) for c in group if c in cmap} - seen
        assert min(new) > end
        end = max(new)
        seen |= new
        if k == 2:
            assert len(group) == 3755 and end < 4300
    figures = [ours.getGlyphID(g) for g in fonts._reached(list(range(0x30, 0x3A)))]
    assert max(figures) < 200  # the figures' language forms (locl) come right after ASCII
    assert "vmtx" not in ours and "VORG" not in ours
