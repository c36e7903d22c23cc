"""Large SVG paths (the QR code) drawn after layout, into the operators WeasyPrint would write.

WeasyPrint parses SVG path data in Python, one regular expression and several float conversions
per command: a QR code's ~3,000 commands cost ~45 ms a certificate. The renderer lays the page out
with a one-point marker path in its place and, before the PDF is written, puts this module's
operators where the marker's are. They are the operators WeasyPrint writes for the same path data
(``tests/test_documents.py`` compares the two PDFs byte for byte), so the printed page, the PDF's
bytes and what reads the QR code from the PDF's vector path all stay as they were.

Only the commands a QR path uses are understood: ``M`` (absolute), ``h``, ``v`` (relative), ``z``.
"""

from __future__ import annotations

import itertools
import operator
import re
from typing import Any

_COMMAND = re.compile(r"([A-Za-z])([^A-Za-z]*)")


def _number(value: float) -> bytes:
    """A coordinate as pydyf writes it (integers without a decimal point, others without trailing zeros)."""
    return str(int(value)).encode() if value.is_integer() else f"{value:f}".rstrip("0").encode()


_RUN = re.compile(r"M([0-9.]+) ([0-9.]+)h([0-9.]+)v([0-9.]+)h-\3z")  # a rectangle: QR code runs, bars


def operators(d: str) -> bytes:
    """The PDF path operators WeasyPrint 70 writes for path data ``d`` (M/h/v/z only), one per line."""
    runs = _RUN.findall(d)
    if runs and sum(len(x) + len(y) + 2 * len(w) + len(h) + 7 for x, y, w, h in runs) == len(d):
        return _rectangles(runs)  # the same operators as below, ~6× faster
    return b"\n".join(_operators(d))


def _rectangles(runs: list[tuple[str, str, str, str]]) -> bytes:
    if all(v.isdigit() for run in runs for v in run):  # a QR code: integers, written as pydyf writes them
        flat = list(map(int, itertools.chain.from_iterable(runs)))
        x, y, w, h = flat[0::4], flat[1::4], flat[2::4], flat[3::4]
        right, bottom = list(map(operator.add, x, w)), list(map(operator.add, y, h))
        return b"\n".join([b"0 0 m", *[_RECTANGLE] * len(x)]) % tuple(  # one formatting for the whole code
            itertools.chain.from_iterable(zip(x, y, right, y, right, bottom, x, bottom, strict=True)))
    out = [b"0 0 m"]
    for run in runs:
        x, y, w, h = map(float, run)
        left, top, right, bottom = _number(x), _number(y), _number(x + w), _number(y + h)
        out.append(b"%s %s m\n%s %s l\n%s %s l\n%s %s l\nh" % (left, top, right, top, right, bottom,
                                                               _number(x + w - w), bottom))
    return b"\n".join(out)


_RECTANGLE = b"%d %d m\n%d %d l\n%d %d l\n%d %d l\nh"


def _operators(d: str) -> list[bytes]:
    out = [b"0 0 m"]  # WeasyPrint starts every path with a move to the origin
    x = y = 0.0
    start: tuple[float, float] | None = None
    for letter, args in _COMMAND.findall(d):
        values = [float(v) for v in args.replace(",", " ").split()]
        if letter == "M" and len(values) == 2:
            x, y = values
            start = None
            out.append(b"%s %s m" % (_number(x), _number(y)))
        elif letter in "hv" and len(values) == 1:
            if start is None:
                start = (x, y)
            if letter == "h":
                x += values[0]
            else:
                y += values[0]
            out.append(b"%s %s l" % (_number(x), _number(y)))
        elif letter in "zZ" and not values:
            if start is not None:
                out.append(b"h")
                x, y = start
                start = None
        else:
            raise ValueError(f"path command {letter}{args!r} is not one the renderer draws itself (M, h, v, z)")
    return out


def marker(n: int) -> str:
    """Path data standing in for the ``n``-th placed path during layout: one move to an odd point."""
    return f"M0.123457 {n}.654321z"


def is_marker(operator: bytes) -> bool:
    """Whether ``operator`` is a marker's move (see :func:`marker_operator`)."""
    return operator.startswith(b"0.123457 ") and operator.endswith(b".654321 m")


def marker_operator(n: int) -> bytes:
    """The operator the marker leaves in the page's content stream."""
    return b"0.123457 %s m" % _number(n + 0.654321)


def swap(html: str, d: str, replacement: str) -> str:
    """``html`` with the first path whose data is ``d`` given ``replacement`` instead (paths placed in
    the order they appear: two with the same data get the same operators either way)."""
    attribute = f'd="{d}"'
    if attribute not in html:
        raise ValueError("the page has no path with the data to place")
    return html.replace(attribute, f'd="{replacement}"', 1)


def place(pdf: Any, placed: dict[bytes, bytes]) -> None:
    """Put each marker's path operators in place in the pydyf document's content streams."""
    import pydyf

    found: list[tuple[Any, int]] = []
    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and placed:
            items = obj.stream
            found += [(obj, i) for i in range(1, len(items))
                      if isinstance(items[i], bytes) and items[i] in placed and items[i - 1] == b"0 0 m"]
    if sorted(obj.stream[i] for obj, i in found) != sorted(placed):
        raise ValueError(f"{len(placed)} path(s) to place, {len(found)} marker(s) in the drawn pages")
    for obj, i in reversed(found):  # from the end, so the earlier positions stay valid
        obj.stream[i - 1:i + 1] = [placed[obj.stream[i]]]
