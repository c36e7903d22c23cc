"""The sheets of a ``park.xlsx``, read from the cells themselves.

openpyxl's streaming mode stops at the ``<dimension>`` a file declares, so a workbook whose tag
understates a sheet loses rows without a word (Excel opens it normally). This reader streams
every ``<row>`` of the sheet XML instead and trusts nothing the file says about itself: the zip
goes through :mod:`footprint.archives` (names, sizes, ratios), XML with a DOCTYPE (entities,
external references) is refused, and rows and columns are capped (cells as in a CSV, by loading).
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from footprint import archives
from footprint.park.errors import Problem

MAX_ROWS = 500_000  # rows of data per sheet, as per CSV table
MAX_COLUMNS = 100
LIMITS = archives.Limits(archive_bytes=64 * archives.MiB, entries=500, entry_bytes=192 * archives.MiB,
                         total_bytes=256 * archives.MiB)
_CELL_REF = re.compile(r"^([A-Z]{1,3})([0-9]+)$")


@dataclass
class Sheet:
    """Cell texts by spreadsheet row (header = row 1); each row lists its cells from column A."""

    name: str
    file: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


class WorkbookError(Exception):
    """The workbook cannot be read at all; carries the located problem."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def column_number(letters: str) -> int:
    """A → 1, Z → 26, AA → 27."""
    n = 0
    for c in letters:
        n = n * 26 + ord(c) - 64
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _xml(members: dict[str, bytes], name: str, where: str) -> ET.Element:
    return ET.fromstring(_checked(members, name, where))


def _checked(members: dict[str, bytes], name: str, where: str) -> bytes:
    """The member's bytes, refused if missing, not UTF-8 XML, or carrying a DOCTYPE (entities, XXE)."""
    data = members.get(name)
    if data is None:
        raise WorkbookError(Problem(where, None, None, None, f"the workbook has no {name}; not an Excel workbook"))
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:64]:
        raise WorkbookError(Problem(where, None, None, None, f"{name} is not UTF-8 XML"))
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise WorkbookError(Problem(where, None, None, None,
                                    f"{name} declares a DOCTYPE or entities; workbooks with those are refused"))
    return data


def _relationships(members: dict[str, bytes], part: str, where: str) -> dict[str, tuple[str, str]]:
    """Id → (type, member path) of a part's relationships."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    if rels_name not in members:
        return {}
    out = {}
    for rel in _xml(members, rels_name, where):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id", "")] = (rel.get("Type", ""), path)
    return out


def _shared_strings(members: dict[str, bytes], path: str | None, where: str) -> list[str]:
    if path is None or path not in members:
        return []
    strings = []
    for si in _xml(members, path, where):
        # rich text runs are concatenated; phonetic guides (rPh) are not part of the value
        strings.append("".join(t.text or "" for t in _texts(si)))
    return strings


def _texts(element: ET.Element) -> list[ET.Element]:
    out = []
    for child in element:
        tag = _local(child.tag)
        if tag == "t":
            out.append(child)
        elif tag == "r":
            out.extend(c for c in child if _local(c.tag) == "t")
    return out


def _number_text(text: str) -> str:
    """A numeric cell as written by the spreadsheet, integers without '.0' (as a CSV would hold them)."""
    try:
        value = float(text)
    except ValueError:
        return text.strip()
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def read_workbook(path: Path, wanted: tuple[str, ...] | None) -> tuple[dict[str, Sheet], list[Problem]]:
    """The ``wanted`` sheets that exist (None: every sheet, in the workbook's order), every row of each;
    problems are located by sheet, row and column.

    Raises :class:`WorkbookError` when the file is not a workbook that may be read at all.
    """
    where = path.name
    try:
        members = archives.read(path, kind="workbook", limits=LIMITS)
    except archives.ArchiveError as e:
        entry = f"entry {e.entry!r}: " if e.entry else ""
        raise WorkbookError(Problem(where, None, None, None,
                                    f"cannot be read as an Excel workbook: {entry}{e.reason}")) from None
    try:
        book = _book_part(members, where)
        rels = _relationships(members, book, where)
        shared = next((p for t, p in rels.values() if t.endswith("/sharedStrings")), None)
        strings = _shared_strings(members, shared, where)
        sheets: dict[str, Sheet] = {}
        problems: list[Problem] = []
        for element in _xml(members, book, where).iter():
            if _local(element.tag) != "sheet" or (wanted is not None and element.get("name") not in wanted):
                continue
            rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
            sheet = Sheet(element.get("name"), f"{where}[{element.get('name')}]")
            member = rels.get(rid, ("", ""))[1]
            _read_rows(_checked(members, member, sheet.file), strings, sheet, problems)
            sheets[sheet.name] = sheet
    except ET.ParseError as e:
        raise WorkbookError(Problem(where, None, None, None, f"cannot be read as an Excel workbook ({e})")) from None
    return sheets, problems


def _book_part(members: dict[str, bytes], where: str) -> str:
    for kind, target in _relationships(members, "", where).values():
        if kind.endswith("/officeDocument"):
            return target
    return "xl/workbook.xml"


def _read_rows(data: bytes, strings: list[str], sheet: Sheet, problems: list[Problem]) -> None:
    row_number = 0
    for _, element in ET.iterparse(BytesIO(data)):
        if _local(element.tag) != "row":
            continue
        row_number = int(element.get("r") or row_number + 1)
        if len(sheet.rows) > MAX_ROWS:  # the header and MAX_ROWS rows of data
            problems.append(Problem(sheet.file, row_number, None, None,
                                    f"the sheet has more than {MAX_ROWS:,} rows; that is the limit"))
            return
        cells: dict[int, str] = {}
        column = 0
        for c in element:
            if _local(c.tag) != "c":
                continue
            ref = _CELL_REF.match(c.get("r") or "")
            column = column_number(ref.group(1)) if ref else column + 1
            if column > MAX_COLUMNS:
                problems.append(Problem(sheet.file, row_number, column_letters(column), None,
                                        f"a cell beyond column {column_letters(MAX_COLUMNS)}; a park sheet has at "
                                        f"most {MAX_COLUMNS} columns"))
                break
            text = _cell(c, strings, sheet, row_number, column, problems)
            if text:
                cells[column] = text  # its length and characters are checked with the CSV tables' (loading)
        element.clear()
        if cells:
            sheet.rows.append((row_number, [cells.get(n, "") for n in range(1, max(cells) + 1)]))


def _cell(c: ET.Element, strings: list[str], sheet: Sheet, row: int, column: int, problems: list[Problem]) -> str:
    kind = c.get("t", "n")
    value = next((x.text or "" for x in c if _local(x.tag) == "v"), None)
    if kind == "inlineStr":
        inline = next((x for x in c if _local(x.tag) == "is"), None)
        return "" if inline is None else "".join(t.text or "" for t in _texts(inline)).strip()
    if value is None:
        return ""
    if kind == "s":
        if not value.isdigit() or int(value) >= len(strings):
            problems.append(Problem(sheet.file, row, column_letters(column), value,
                                    "the cell points to a shared string the workbook does not have"))
            return ""
        return strings[int(value)].strip()
    if kind == "e":
        problems.append(Problem(sheet.file, row, column_letters(column), value,
                                "the cell holds a spreadsheet error; expected a value"))
        return ""
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind == "n":
        return _number_text(value)
    return value.strip()  # str (a formula's text result), d (ISO date)
