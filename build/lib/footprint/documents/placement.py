"""A template laid out once, each document's values placed into it (certificates issued by the hundred).

WeasyPrint spends ~0.6 s laying out and drawing a certificate, nearly all of it on what every product
of a park shares: wording, tables, rules, the statement. Here the template is rendered with each value
given through ``v(...)`` replaced by a probe (its number between word joiners). That probe HTML is the
cache key, so whatever is not given as a value (the issuer, the statement, which rows a table has)
selects its own layout, and no value is ever placed into a layout made for other content. WeasyPrint
lays the probe HTML out and draws it once, without the lines that carry probes; each document then has
those lines drawn by WeasyPrint's own shaping (``split_text_box``) and drawing (``draw_text``) with its
values in place of the probes, the fixed text of those lines moved by the width the values added.

A value is placed only where the page stays what WeasyPrint makes of the same HTML with the value in
it, which :meth:`Layout.place` checks for every line of every document:

- the value is plain text in the document font (characters of its GBK cut; no leading, trailing,
  doubled or non-space whitespace; not empty — a blank cell is one no-break space);
- its line still fits: the line's content, widened by the values, is narrower than the space the line
  had (alignment left, right or centre), and the value shapes to the probe's height and baseline;
- a block reserved for it (``v(value, n)``: the probe on n lines) takes it in at most n lines, broken
  where WeasyPrint breaks it;
- when the layout is made: a line carrying a probe holds only text (no inline blocks, images or
  decorated inline boxes), starts and ends at a forced break or its block's edge (never where WeasyPrint
  wrapped it), runs left to right, clear of floats and of transforms. Values found elsewhere are
  printed into the HTML instead (``Layout.unplaceable``): they become part of the key.

Anything else returns ``None``, and the caller has WeasyPrint lay that document out in full.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from dataclasses import dataclass, field
from math import inf
from typing import Any

from footprint.documents import vector

PROBE = "&#8288;{}&#8288;"  # n between word joiners: no line break inside, no wider than a number. Written as
# character references: a word joiner in the HTML itself can only come from data, which then is not placed
_PROBE = re.compile("\u2060(\\d+)\u2060")
_RESERVED = re.compile("\u2060(\\d+)\u2060(?:\n\u2060\\1\u2060)+")  # a reserved block's lines in the laid-out text
_ALIGN = {"start": 0.0, "left": 0.0, "center": 0.5, "end": 1.0, "right": 1.0}


class Probes:
    """The template's ``v``: records each value and prints its probe in its place, except the values
    numbered in ``printed``, which it prints (they sit where a layout cannot take another value)."""

    def __init__(self, printed: frozenset[int] = frozenset()) -> None:
        self.values: list[str] = []
        self.printed = printed

    def __call__(self, value: Any, lines: int = 1) -> str:
        """The probe (on each of ``lines`` lines, for a value given a block of that many lines)."""
        from markupsafe import Markup

        self.values.append(str(value))
        n = len(self.values) - 1
        if n in self.printed:
            return self.values[n]
        return Markup("<br>").join([Markup(PROBE.format(n))] * lines)


def plain(value: Any, lines: int = 1) -> str:
    """The template's ``v`` when WeasyPrint renders the values themselves (the block keeps its
    ``lines`` by its style: see ``.lines-2`` in documents.css)."""
    return str(value)


def substitute(text: str, values: list[str]) -> str:
    """``text`` with every probe replaced by its value."""
    return _PROBE.sub(lambda m: values[int(m.group(1))], text)


@functools.cache
def _printable() -> frozenset[int]:
    from footprint.documents.fonts import charset

    return frozenset(c for c in charset() if c > 0x20 and c != 0x2060 and not chr(c).isspace())  # not a probe's joiner


def placeable(value: str) -> bool:
    """Plain text the document font prints as it is: WeasyPrint would neither collapse nor trim
    any of its spaces, nor take a glyph from another font."""
    if value == "\u00a0":  # a blank cell (one no-break space): a line holding nothing
        return True
    if not value or value != value.strip() or "  " in value:
        return False
    printable = _printable()
    return all(c == " " or ord(c) in printable for c in value)


@dataclass
class _Leaf:
    """One text box of a line that carries probes, as laid out in the template."""

    box: Any  # weasyprint TextBox
    probes: bool  # whether its text holds probes (else its recorded drawing is replayed, moved)
    ops: list[Any] = field(default_factory=list)


@dataclass
class _Line:
    page: int
    leaves: list[_Leaf]
    align: float  # share of the free width left of the content: 0 left, ½ centre, 1 right
    room: float  # free width of the line in the template, CSS px


@dataclass
class _Reflow:
    """A block of ``len(tops)`` lines reserved for one value (the probe once per line, joined by breaks):
    the value is broken into at most that many lines, as WeasyPrint breaks it at the block's width."""

    page: int
    probe: int
    box: Any  # the first line's text box: style, height and baseline of every line
    left: float
    width: float
    tops: list[float]


class Layout:
    """One template's pages laid out and drawn once, with the lines that carry probes kept apart."""

    def __init__(self, document: Any, context: Any, text: str,
                 signature_box: tuple[int, tuple[float, float, float, float]] | None):
        self.document = document
        self.context = context
        self.text = text  # laid-out text with the probes (taken before the lines are set apart)
        self.signature_box = signature_box
        self.lines: list[_Line] = []
        self.reflows: list[_Reflow] = []
        self._shapes: dict[tuple[int, str, bool], tuple[Any, int | None]] = {}
        self._drawings: dict[tuple[Any, ...], tuple[list[Any], dict[Any, tuple[dict, dict]]]] = {}
        self.problems: list[str] = []  # where values cannot be placed, and why
        self.unplaceable: set[int] = set()  # the probes found there: their values must be printed in the HTML
        self._find_lines()
        if not self.problems:
            self._record()

    # -- once per template ------------------------------------------------------------------------

    def _find_lines(self) -> None:
        for n, page in enumerate(self.document.pages):
            floats: list[tuple[float, float, float, float]] = []
            blocks: list[tuple[Any, bool]] = []
            _walk(page._page_box, False, floats, blocks)
            for block, effects in blocks:
                try:
                    self._block_lines(n, block, floats, effects)
                except _Unplaceable as e:
                    self.problems.append(str(e))
                    self.unplaceable.update(int(m) for m in _PROBE.findall(_text(block, 10**6)))

    def _block_lines(self, page: int, block: Any, floats: list[tuple[float, float, float, float]],
                     effects: bool) -> None:
        from weasyprint.formatting_structure import boxes

        lines = [c for c in block.children if isinstance(c, boxes.LineBox)]
        carrying = []
        for i, line in enumerate(lines):
            leaves: list[Any] = []
            _leaves(line, leaves)
            texts = [b for b in leaves if isinstance(b, boxes.TextBox)]
            if not any("\u2060" in b.text for b in texts):
                continue
            other = next((b for b in leaves if not isinstance(b, boxes.TextBox)), None)
            if other is not None:
                raise _Unplaceable(f"a line with a value also holds {type(other).__name__}")
            if any(2 * len(_PROBE.findall(b.text)) != b.text.count("\u2060") for b in texts):
                raise _Unplaceable("a probe is split between two text boxes")
            carrying.append((i, line, texts))
        if not carrying:
            return
        if effects:
            raise _Unplaceable("a value inside a transformed or translucent element")
        for i, _, _ in carrying:  # a line with a value starts and ends at a <br> or its block's edge, never
            # where WeasyPrint wrapped text (a wider value would move the wrap, and every line after it)
            if (i > 0 and not _ends_at_break(lines[i - 1])) or (i < len(lines) - 1 and not _ends_at_break(lines[i])):
                raise _Unplaceable(f"a line with a value is part of wrapped text: {_text(block)!r}")
        style = block.style
        if style["direction"] != "ltr":
            raise _Unplaceable("a value in right-to-left text")
        left, right = block.content_box_x(), block.content_box_x() + block.width
        for _, line, _ in carrying:
            top, bottom = line.position_y, line.position_y + line.height
            for fx, fy, fw, fh in floats:
                if fx < right and fx + fw > left and fy < bottom and fy + fh > top:
                    raise _Unplaceable("a line with a value runs beside a float")
        reserved = {b.text for _, _, texts in carrying for b in texts}
        if (len(lines) > 1 and len(carrying) == len(lines) and all(len(t) == 1 for _, _, t in carrying)
                and len(reserved) == 1 and _PROBE.fullmatch(next(iter(reserved)))):
            if _ALIGN.get(style["text_align_all"]) != 0.0 or style["text_align_last"] not in ("auto", "start", "left"):
                raise _Unplaceable("a block reserved for a value is not aligned left")
            self.reflows.append(_Reflow(page, int(_PROBE.fullmatch(next(iter(reserved))).group(1)),
                                        carrying[0][2][0], left, block.width,
                                        [t[0].position_y for _, _, t in carrying]))
            for line in lines:
                line.children = ()
            return
        for i, line, texts in carrying:
            align = line.style["text_align_all"]
            if i == len(lines) - 1 and line.style["text_align_last"] != "auto":
                align = line.style["text_align_last"]
            if align not in _ALIGN:
                raise _Unplaceable(f"a line with a value is aligned {align}")
            if line.style["text_overflow"] != "clip" or line.style["block_ellipsis"] != "none":
                raise _Unplaceable("a line with a value has an ellipsis")
            for b in texts:
                if any(b.style[f"border_{side}_width"] for side in ("top", "right", "bottom", "left")):
                    raise _Unplaceable("a text box with a value has a border")
            content = max(b.position_x + b.margin_width() for b in texts) - min(b.position_x for b in texts)
            self.lines.append(_Line(page, [_Leaf(b, bool(_PROBE.search(b.text))) for b in texts],
                                    _ALIGN[align], (right - left) - content))
            line.children = ()  # drawn per document, not with the page

    def _record(self) -> None:
        """Draw the pages (without the lines that carry probes) and those lines' fixed text boxes once."""
        import pydyf
        from weasyprint.draw.text import draw_text
        from weasyprint.pdf.stream import Stream

        self.fonts: dict[Any, Any] = {}
        self.resources = pydyf.Dictionary({"ExtGState": pydyf.Dictionary(), "XObject": pydyf.Dictionary(),
                                           "Pattern": pydyf.Dictionary(), "Shading": pydyf.Dictionary(),
                                           "ColorSpace": None})
        self.images: dict[Any, Any] = {}
        self.pages: list[list[Any]] = []

        def stream(page: Any) -> Any:
            return Stream(self.fonts, (0, 0, page.width, page.height), self.resources, self.images, None,
                          self.document.color_profiles, self.document.output_intent, compress=False)

        for page in self.document.pages:
            s = stream(page)
            page.paint(s, 0.75)
            self.pages.append(_joined(s.stream))
        for line in self.lines:
            for leaf in line.leaves:
                if not leaf.probes:
                    s = stream(self.document.pages[line.page])
                    draw_text(s, leaf.box, 0, "clip", "none")
                    leaf.ops = list(s.stream)
        if self.images or any(self.resources[k] for k in ("XObject", "Pattern", "Shading")):
            self.problems.append("the template draws images, patterns or groups, which are not copied per document")

    # -- once per document ------------------------------------------------------------------------

    def place(self, values: list[str], metadata: Any) -> tuple[Any, str] | None:
        """A WeasyPrint ``Document`` of this template with ``values`` in place of the probes and the
        text laid out on its pages, or ``None`` when a value cannot be placed (see the module's rules)."""
        from weasyprint.document import Document

        if self.problems or not all(map(placeable, values)):
            return None
        drawn: list[list[tuple[float, Any, list[Any] | None]]] = [[] for _ in self.pages]
        for line in self.lines:
            placed = []
            added = 0.0
            for k, leaf in enumerate(line.leaves):
                if not leaf.probes:
                    placed.append((leaf, added, None))
                    continue
                box = leaf.box
                text = substitute(box.text, values)
                new, skip = self._shaped(box, text, k == 0)  # WeasyPrint shapes a line's first box as its start
                if new is None or skip is not None or new.text != text:
                    return None
                if abs(new.baseline - box.baseline) > 1e-6 or abs(new.margin_height() - box.margin_height()) > 1e-6:
                    return None
                placed.append((leaf, added, new))
                added += new.margin_width() - box.margin_width()
            if added >= line.room - 0.01:  # WeasyPrint would wrap or overflow it
                return None
            shift = -line.align * added
            for leaf, before, new in placed:
                if new is None:
                    drawn[line.page].append((shift + before, None, leaf.ops))
                else:
                    new.position_x = leaf.box.position_x + shift + before
                    new.position_y = leaf.box.position_y
                    drawn[line.page].append((0.0, new, None))
        broken: dict[str, str] = {}
        for reflow in self.reflows:
            boxes = self._reflow(reflow, values[reflow.probe])
            if boxes is None:
                return None
            drawn[reflow.page] += [(0.0, box, None) for box in boxes]
            broken[str(reflow.probe)] = "\n".join(box.text for box in boxes)
        pages = [_Page(self, page, n, drawn[n]) for n, page in enumerate(self.document.pages)]
        document = Document(pages, metadata, self.document.url_fetcher, self.document.font_config,
                            self.document.color_profiles, self.document.output_intent)
        document.fonts = {key: _font_copy(font) for key, font in self.fonts.items()}
        text = _RESERVED.sub(lambda m: broken.get(m.group(1), m.group(0)), self.text)
        return document, substitute(text, values)


    def _shaped(self, box: Any, text: str, line_start: bool) -> tuple[Any, int | None]:
        """``text`` shaped in ``box``'s style on one line (a copy: the caller places it). Values recur from
        certificate to certificate (units, blank cells, category names), so shapes are kept per layout."""
        from weasyprint.layout.inline import split_text_box

        key = (id(box), text, line_start)
        if key not in self._shapes:
            if len(self._shapes) > 20_000:
                self._shapes.clear()
            new, skip, _ = split_text_box(self.context, box.copy_with_text(text), inf, 0, is_line_start=line_start)
            self._shapes[key] = (new, skip)
        new, skip = self._shapes[key]
        return (copy.copy(new) if new is not None else None), skip

    def _reflow(self, reflow: _Reflow, value: str) -> list[Any] | None:
        """``value`` broken into the lines WeasyPrint makes of it at the block's width, or ``None`` if it
        needs more lines than reserved (or a word is wider than the block)."""
        from weasyprint.layout.inline import split_text_box

        template = reflow.box.copy_with_text(value)
        encoded = value.encode()
        out: list[Any] = []
        skip: int | None = 0
        while skip is not None:
            if len(out) == len(reflow.tops):
                return None
            new, resume, _ = split_text_box(self.context, template, reflow.width, skip, is_line_start=True)
            if new is None or new.width > reflow.width + 0.01 or abs(new.baseline - reflow.box.baseline) > 1e-6 \
                    or abs(new.margin_height() - reflow.box.margin_height()) > 1e-6:
                return None
            new.position_x, new.position_y = reflow.left, reflow.tops[len(out)]
            out.append(new)
            skip = resume
            while skip is not None and skip < len(encoded) and encoded[skip:skip + 1] == b" ":
                skip += 1  # WeasyPrint skips the spaces a new line starts with
            if skip is not None and skip >= len(encoded):
                skip = None
        return out


    def draw(self, stream: Any, box: Any) -> None:
        """Draw a value's text box, as ``draw_text`` does. Most values recur from certificate to certificate
        at the same place (units, category names, dates, blank rows: 59 % in the benchmark park), so the
        operators drawn for a text, style and position are kept with the glyphs they use, and replayed."""
        from weasyprint.draw.text import draw_text

        key = (id(box.style), box.text, box.position_x, box.position_y, box.baseline)
        kept = self._drawings.get(key)
        if kept is None:
            kept = self._drawing(stream, box)
            if kept is None:
                draw_text(stream, box, 0, "clip", "none")
                return
            if len(self._drawings) > 20_000:
                self._drawings.clear()
            self._drawings[key] = kept
        ops, glyphs = kept
        for font_key, (widths, to_unicode) in glyphs.items():
            font = stream._fonts[font_key]
            for glyph, width in widths.items():
                font.widths.setdefault(glyph, width)
            for glyph, text in to_unicode.items():
                font.to_unicode.setdefault(glyph, text)
        stream.push_state()
        stream.stream.extend(ops)
        stream.pop_state()

    def _drawing(self, stream: Any, box: Any) -> tuple[list[Any], dict[Any, tuple[dict, dict]]] | None:
        """``draw_text``'s operators for ``box`` on a stream of their own, and the glyphs they use; ``None``
        when they would need a font or graphics state that not every document of this layout has."""
        from weasyprint.draw.text import draw_text
        from weasyprint.pdf.stream import Stream

        fonts = {k: _font_copy(f, empty=True) for k, f in stream._fonts.items()}
        own = Stream(fonts, stream.page_rectangle, stream._resources, stream._images, None, stream._color_profiles,
                     stream._output_intent, compress=False)
        draw_text(own, box, 0, "clip", "none")
        if set(fonts) - set(self.fonts) or any(f.missing for f in fonts.values()) \
                or set(stream._resources["ExtGState"]) - set(self.resources["ExtGState"]):
            return None
        return list(own.stream), {k: (f.widths, f.to_unicode) for k, f in fonts.items() if f.widths or f.to_unicode}


class _Page:
    """A page of a placed document: WeasyPrint's ``Page`` as ``generate_pdf`` uses it."""

    def __init__(self, layout: Layout, page: Any, n: int, drawn: list[tuple[float, Any, list[Any] | None]]):
        self.width, self.height, self.bleed = page.width, page.height, page.bleed
        self.bookmarks, self.links, self.anchors, self.forms = page.bookmarks, page.links, page.anchors, page.forms
        self._layout, self._n, self._drawn = layout, n, drawn

    def paint(self, stream: Any, scale: float = 1) -> None:
        import pydyf

        for key, state in self._layout.resources["ExtGState"].items():
            stream._resources["ExtGState"].setdefault(key, pydyf.Dictionary(state))
        stream.stream.extend(self._layout.pages[self._n])
        if not self._drawn:
            return
        with stream.stacked():
            stream.transform(a=scale, d=scale)
            for dx, box, ops in self._drawn:
                if box is not None:
                    if box.text.strip():  # a blank cell draws nothing (as in draw_first_line), so skip it whole
                        self._layout.draw(stream, box)
                else:
                    stream.push_state()
                    stream.transform(e=dx)
                    stream.stream.extend(ops)
                    stream.pop_state()


class _Unplaceable(Exception):
    """The template has a value where placing it could differ from WeasyPrint's own layout."""


def _walk(box: Any, effects: bool, floats: list[tuple[float, float, float, float]],
          blocks: list[tuple[Any, bool]]) -> None:
    """Collect the floats and the blocks holding lines of a page; ``effects``: a transform or opacity
    above (which lines drawn apart from the page would not get)."""
    from weasyprint.formatting_structure import boxes

    effects = effects or bool(box.style["transform"]) or box.style["opacity"] < 1
    if box.style["float"] != "none":
        floats.append((box.position_x, box.position_y, box.margin_width(), box.margin_height()))
    children = getattr(box, "children", None) or []
    if any(isinstance(c, boxes.LineBox) for c in children):
        blocks.append((box, effects))
    for child in children:
        if not isinstance(child, boxes.LineBox):
            _walk(child, effects, floats, blocks)


def _leaves(box: Any, out: list[Any]) -> None:
    for child in getattr(box, "children", None) or []:
        if type(child).__name__ in ("InlineBox",):
            if child.style["background_color"].alpha or any(
                    child.style[f"border_{side}_width"] for side in ("top", "right", "bottom", "left")):
                out.append(child)  # decorated: not placeable
            else:
                _leaves(child, out)
        else:
            out.append(child)


def _text(box: Any, limit: int = 120) -> str:
    leaves: list[Any] = []
    for line in getattr(box, "children", None) or []:
        _leaves(line, leaves)
    return " / ".join(getattr(b, "text", "") or _text(b, limit) for b in leaves)[:limit]


def _ends_at_break(line: Any) -> bool:
    box = line
    while getattr(box, "children", None):
        box = box.children[-1]
        if getattr(box, "element_tag", None) == "br":
            return True
    return False


def _joined(items: list[Any]) -> list[Any]:
    """A page's operators as pydyf writes them, joined into a few chunks once instead of item by item for
    every document; a placed path's marker (``0 0 m`` and its move) stays two items, as
    :func:`footprint.documents.vector.place` looks for them."""
    import pydyf

    out: list[Any] = []
    run: list[bytes] = []
    for item in items:
        if isinstance(item, bytes) and vector.is_marker(item) and run and run[-1] == b"0 0 m":
            out += [b"\n".join(run[:-1]), b"0 0 m", item] if len(run) > 1 else [b"0 0 m", item]
            run = []
        else:
            run.append(pydyf._to_bytes(item))
    return out + ([b"\n".join(run)] if run else [])


def _font_copy(font: Any, empty: bool = False) -> Any:
    """A template font for one document: its glyphs so far (none if ``empty``), with room for the
    document's own."""
    new = copy.copy(font)
    new.widths, new.to_unicode, new.missing = ({}, {}, {}) if empty else (
        dict(font.widths), dict(font.to_unicode), dict(font.missing))
    return new


def metadata(template: Any, values: list[str]) -> Any:
    """The template's document metadata (title, author, …) with the values in place of the probes."""
    new = copy.copy(template)
    new.title = template.title and substitute(template.title, values)
    new.description = template.description and substitute(template.description, values)
    new.authors = [substitute(a, values) for a in template.authors]
    new.keywords = [substitute(k, values) for k in template.keywords]
    new.custom = {k: substitute(x, values) for k, x in template.custom.items()}
    return new


def key(html: str) -> str:
    """The cache key of a probe HTML (its placed paths' markers are in it)."""
    return hashlib.sha256(html.encode()).hexdigest()
