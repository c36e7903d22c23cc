"""pyHanko's reading of whole objects, strings and cross-reference streams in one pass (certificates/pdf_reading.py)
against pyHanko's own functions: every object of real documents, hand-written hostile and unusual snippets and
random ones read both ways give the same objects (types, values, references, where the stream is left after them)
or the same error and the same warnings."""

from __future__ import annotations

import io
import logging
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footprint.certificates import pdf_reading


@pytest.fixture(scope="module", autouse=True)
def _installed():  # noqa: ANN202
    pdf_reading.fast_pdf_reading()
    yield
    pdf_reading._use_one_pass_reading(True)


def _handler(strict: bool = False):  # noqa: ANN202 - a pyHanko PdfHandler
    """A handler as a reader is one for what reading an object asks of it: ``strict``, and an indirect ``/Length``
    (every reference resolves to 5)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.rw_common import PdfHandler

    class Handler(PdfHandler):
        def __init__(self) -> None:
            self.strict = strict

        def get_object(self, _ref, *_args, **_kwargs):  # noqa: ANN001, ANN202
            return generic.NumberObject(5)

    return Handler()


def _deep(obj, seen: set | None = None):  # noqa: ANN001, ANN202 - a pyHanko object
    """A pyHanko object as plain values that tell every difference pyHanko's readers could make: type, value and
    text, a string's detected encoding, the container reference, keys' types, references (followed once), streams'
    raw bytes."""
    from pyhanko.pdf_utils import generic

    seen = set() if seen is None else seen
    ref = getattr(obj, "container_ref", None)
    ref = (type(ref).__name__, getattr(ref, "idnum", None), getattr(ref, "generation", None))
    if isinstance(obj, generic.IndirectObject):
        key = (obj.idnum, obj.generation)
        inner = None
        if key not in seen and hasattr(obj.get_pdf_handler(), "xrefs"):  # a reader's: followed once
            seen.add(key)
            inner = _deep(obj.get_object(), seen)
        return ("ref", key, type(obj.get_pdf_handler()).__name__, ref, inner)
    if isinstance(obj, generic.StreamObject):
        return (type(obj).__name__, [(type(k).__name__, str(k), _deep(obj.raw_get(k), seen)) for k in obj],
                obj.encoded_data, ref)
    if isinstance(obj, dict):
        return (type(obj).__name__, [(type(k).__name__, str(k), _deep(obj.raw_get(k), seen)) for k in obj], ref)
    if isinstance(obj, list):
        return (type(obj).__name__, [_deep(obj.raw_get(i), seen) for i in range(len(obj))], ref)
    if isinstance(obj, (generic.BooleanObject, generic.NullObject)):
        return (type(obj).__name__, getattr(obj, "value", None), ref)
    return (type(obj).__name__, repr(obj), str(obj), getattr(obj, "autodetected_encoding", None), ref)


def _read(read, data: bytes, start: int = 0, caplog=None, **kwargs):  # noqa: ANN001, ANN202
    """What ``read(stream, container_ref)`` gives from ``start``: the object and where it left the stream, or the
    error's type; and what pyHanko logged."""
    from pyhanko.pdf_utils import generic

    stream = io.BytesIO(data)
    stream.seek(start)
    if caplog is not None:
        caplog.clear()
    try:
        result = (_deep(read(stream, generic.Reference(7, 0, _handler(kwargs.pop("strict", False))), **kwargs)),
                  stream.tell())
    except RecursionError:
        result = RecursionError
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        result = type(e)
    logged = [(r.levelname, r.getMessage()) for r in caplog.records] if caplog is not None else []
    return result, logged


def _same(data: bytes, start: int = 0, caplog=None, **kwargs) -> None:  # noqa: ANN001
    fast = _read(pdf_reading._read_object, data, start, caplog, **dict(kwargs))
    own = _read(pdf_reading._pyhanko_read_object, data, start, caplog, **dict(kwargs))
    assert fast == own, data[start:start + 200]
    if data[start:start + 2] == b"<<":
        assert _read(pdf_reading._read_dictionary, data, start, caplog, **dict(kwargs)) == \
            _read(pdf_reading._pyhanko_read_dictionary, data, start, caplog, **dict(kwargs))


# plain objects and every kind of thing a plain reading must leave to pyHanko: comments, escapes, odd numbers,
# references pyHanko reads otherwise, streams where pyHanko looks for one, truncation, nesting, control bytes
SNIPPETS = [
    b"<< /Type /Catalog /Pages 1 0 R >>", b"<</Type/Catalog/Pages 1 0 R>>endobj", b"[1 2.5 -3 +4 .5 -.5 +.5 1. -0 0]",
    b"[00012 -0.0 0.000 123456789012345678901234567890 1234567890123456789012345678901]", b"1.2.3", b"--1", b"+",
    b"-", b".", b"1,2", b"[1,2]", b"1e5", b"12 0 R", b"12 0 R ", b"12 0 Rx", b"12 0 R]", b"0 0 R ", b"12  0\n\rR ",
    b"12\x0b0 R ", b"12 0\x0bR ", b"12 0 \x00R ", b"12\x000 R ", b"1           0 R ", b"12 0  R/", b"12 R ",
    b"[1 0 R 2 0 R]", b"[1 0 R2 0 R]", b"<< /A 1 0 R/B 2 0 R>>", b"99999999999999999 0 R ", b"1 99999 R ",
    b"<< /A << /B << /C [1 [2 [3]]] >> >> >>", b"<< /A 1 % a comment\n /B 2 >>", b"<< % c\n/A 1 >>", b"[1 %c\n 2]",
    b"%c\n<< /A 1 >>", b"/Name", b"/Name ", b"/Name/Other", b"/Na#20me ", b"/Na#2fme ", b"/A#e4#b8#ad ", b"/A#ff ",
    b"/A#4 ", b"/A#zz ", b"/A#", b"/A\x01 ", b"/A\x80 ", b"/ ", b"<< / 1 >>", b"<</A(x)/B<41>/C[]/D<<>>>>",
    b"<< /A 1 /A 2 >>", b"<< /A 1 >x", b"<< /A 1 > >", b"<< /A 1", b"<< /A", b"<<", b"[", b"[1 2", b"<< 1 2 >>",
    b"<< /A >>", b"<< /A ] >>", b"[ >> ]", b"]", b">>", b"", b" 1", b"\x001", b"true", b"truex", b"tru", b"false",
    b"fals", b"falsey", b"null", b"nul", b"nullx", b"[true false null]", b"[truefalse]", b"{1}", b"(a)", b"(a(b)c)",
    b"(a\\)b)", b"(a\\053b)", b"(\\0553)", b"(a\\5b)", b"(a\\nb)", b"(open", b"(\xfe\xff\x00A)", b"(\xef\xbb\xbfA)",
    b"(\xff\xfeA\x00)", b"(\x00\x09)", b"(\x18\x7f\xad)", b"(\x80\x9f\xa0\xff)", b"<>", b"<4>", b"<41 42>", b"<41%c\n>",
    b"<4G>", b"<41", b"<feff0041>", b"<fffe4100>", b"<00>", b"<< /A <41>> >>", b"<< /A <41>>>",
    b"<< /Length 3 >>\nstream\nabc\nendstream", b"<< /Length 5 0 R >>\nstream\nabcde\nendstream",
    b"<< /Length 9 >>\nstream\nabc\nendstream", b"<< /Length 3 >> stream\r\nabcendstream", b"<< /Length 3 >>\nstreamx",
    b"<< /A << /Length 1 >>\nstream\nx\nendstream >>", b"[ << /A 1 >> stream ]", b"[ << /A 1 >> s ]",
    b"<< /A << /B 1 >> % c\n>>", b"<< /A << /B 1 >>>>", b"[<< >>]", b"<< /Length 3 >>\n% c\nstream\nabc\nendstream",
    b"[ 1 0 obj ]", b"<< /A 1 0 obj >>", b"[" * 40 + b"]" * 40, b"[" * 1000 + b"]" * 1000, b"[" * 1000,
    b"<< /A " * 40 + b"1" + b" >>" * 40, b"[/A/B/C]", b"[/A[/B]/C]", b"[(a)(b)<41><42>]",
]


@pytest.mark.parametrize("data", SNIPPETS)
def test_snippets_read_as_pyhanko_reads_them(data, caplog):
    caplog.set_level(logging.DEBUG, logger="pyhanko")
    _same(data, caplog=caplog)
    _same(data + b"\nendobj", caplog=caplog)
    _same(b"xx" + data + b" ", start=2, caplog=caplog)
    _same(data, caplog=caplog, strict=True)
    if len(data) > 1:
        _same(data[:-1], caplog=caplog)  # truncated


def test_objects_read_as_pyhanko_reads_them_in_a_content_stream_and_as_metadata():
    from pyhanko.pdf_utils import generic

    for data in (b"<< /A 1 >>", b"[1 2 R]", b"<< /Type /Metadata /Length 3 >>\nstream\nabc\nendstream"):
        for kwargs in ({"in_content_stream": generic.ContentOpReading.GRAPHIC_OPS},
                       {"in_content_stream": generic.ContentOpReading.IN_OBJECT}, {"as_metadata_stream": True}):
            _same(data, **kwargs)


_PIECES = st.sampled_from([b"<<", b">>", b"[", b"]", b"/A", b"/B", b"/Ty#70e", b"/", b"1", b"-2", b"3.5", b".5", b"+",
                           b"0", b"12 0 R", b"4 0 R", b"0 0 R", b"true", b"false", b"null", b"(s)", b"(a\\055b)",
                           b"(x(y)z)", b"<41>", b"<4 1>", b"<>", b"%c\n", b" ", b"\n", b"\x00", b"\x0b", b"\r\n",
                           b"stream\nab\nendstream", b"R", b"#", b"{", b"\xff", b"obj", b"e"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map(b"".join), st.sampled_from([b"", b" ", b"\nendobj", b" /X 1 >>"]))
def test_random_objects_read_as_pyhanko_reads_them(data, end):
    _same(data + end)
    _same(b"<< /K " + data + end)
    _same(b"[" + data + end)


def test_pdf_strings_are_pyhanko_s():
    from pyhanko.pdf_utils import generic

    samples = [bytes([b]) * 2 for b in range(256)] + [b"", b"\xfe\xff\x00A", b"\xff\xfeA\x00", b"\xef\xbb\xbfA",
                                                      b"\xfe\xff\x00", b"\xef\xbb\xbf\xff", bytearray(b"ab"), "text"]

    def made(make, value):  # noqa: ANN001, ANN202
        try:
            obj = make(value)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)
        return type(obj), repr(obj), str(obj), getattr(obj, "autodetected_encoding", None)

    for value in samples:
        assert made(pdf_reading._pdf_string, value) == made(pdf_reading._pyhanko_pdf_string, value)
    assert generic.pdf_string is pdf_reading._pdf_string


def _xref_stream(widths: list, index: list | None, rows: bytes, size: int | None = None):  # noqa: ANN202
    from pyhanko.pdf_utils import generic

    entries = {"/Type": generic.NameObject("/XRef"), "/W": generic.ArrayObject(widths)}
    if index is not None:
        entries["/Index"] = generic.ArrayObject(index)
    if size is not None:
        entries["/Size"] = generic.NumberObject(size)
    return generic.StreamObject({generic.NameObject(k): v for k, v in entries.items()}, stream_data=rows)


def _xref_outcome(parse, process, stream, strict: bool):  # noqa: ANN001, ANN202
    """The entries pyHanko's parser yields (or its error), and the tables ``process_entries`` fills (or its error)."""
    from pyhanko.pdf_utils import xref

    try:
        entries = list(parse(stream, strict))
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        entries = type(e)
    data = xref.XRefSectionData()
    try:
        highest = process(data, parse(stream, strict), strict)
    except Exception as e:  # noqa: BLE001
        highest = type(e)
    return entries, highest, (data.standard_xrefs, data.xrefs_in_objstm, data.freed, data.explicit_refs_in_revision,
                              data.obj_streams_used)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 3, 4, 8, 9, -1]), min_size=2, max_size=4),
       st.one_of(st.none(), st.lists(st.integers(-1, 12), max_size=6)), st.binary(max_size=120),
       st.one_of(st.none(), st.integers(0, 12)), st.booleans(), st.sampled_from([0, 0, 1, 2, 0xFF]))
def test_cross_reference_streams_read_as_pyhanko_reads_them(widths, index, rows, size, strict, kind):
    """Entries, tables and errors of random streams (widths 0 to 9 bytes, /Index or /Size, rows short, whole or
    trailing, types 0 to 255, generations past 0xFFFF) are pyHanko's."""
    from pyhanko.pdf_utils import generic

    if kind and rows:
        rows = bytes([kind]) + rows[1:]
    stream = _xref_stream([generic.NumberObject(w) for w in widths],
                          None if index is None else [generic.NumberObject(n) for n in index], rows, size)
    assert _xref_outcome(pdf_reading._XRefStreamEntries, pdf_reading._processed_entries, stream, strict) \
        == _xref_outcome(pdf_reading._pyhanko_parse_xref_stream, pdf_reading._pyhanko_process_entries, stream, strict)


def test_a_plain_cross_reference_stream_is_read_without_pyhanko_s_parser(monkeypatch):
    """The plain case is the one taken: three objects (free, in the file, in an object stream) and their tables."""
    from pyhanko.pdf_utils import generic, xref

    rows = bytes([0, 0, 0, 0xFF, 0xFF]) + bytes([1, 0, 0x10, 0, 0]) + bytes([2, 0, 9, 0, 3])
    stream = _xref_stream([generic.NumberObject(w) for w in (1, 2, 2)], None, zlib.decompress(zlib.compress(rows)),
                          size=3)
    monkeypatch.setattr(pdf_reading, "_pyhanko_parse_xref_stream", None)  # would fail if called
    data = xref.XRefSectionData()
    assert pdf_reading._processed_entries(data, pdf_reading._XRefStreamEntries(stream, True), True) == 2
    assert data.standard_xrefs == {1: (0, 16)} and data.xrefs_in_objstm == {2: xref.ObjStreamRef(9, 3)}
    assert data.freed == {} and data.explicit_refs_in_revision == {(1, 0), (2, 0)}  # object 0 is skipped
    assert [e.xref_type for e in pdf_reading._XRefStreamEntries(stream, True)] == \
        [xref.XRefType.FREE, xref.XRefType.STANDARD, xref.XRefType.IN_OBJ_STREAM]


def _everything(pdf: bytes) -> tuple:
    """Every object of every revision of ``pdf`` as pyHanko's reader reads it, its cross-reference tables, the
    signatures found and the embedded files."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import verification

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    refs = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= {(r.idnum, r.generation) for r in reader.xrefs.explicit_refs_in_revision(revision)}
    objects = []
    for idnum, generation in sorted(refs):
        for revision in range(reader.xrefs.total_revisions):
            try:
                obj = reader.get_object(generic.Reference(idnum, generation, reader), revision=revision)
                objects.append(((idnum, generation, revision), _deep(obj, {(idnum, generation)})))
            except Exception as e:  # noqa: BLE001 - the error is what is compared
                objects.append(((idnum, generation, revision), type(e)))
    tables = [(s.meta_info, s.xref_data.standard_xrefs, s.xref_data.xrefs_in_objstm, s.xref_data.freed,
               s.xref_data.explicit_refs_in_revision) for s in reader.xrefs._xref_sections]
    sigs = [(s.field_name, s.byte_range, s.signed_data.dump()) for s in reader.embedded_signatures]
    return objects, tables, _deep(reader.trailer_view), sigs, verification.embedded_files(pdf, reader)


def _both_ways(pdf: bytes) -> tuple:
    pdf_reading._use_one_pass_reading(True)
    fast = _everything(pdf)
    pdf_reading._use_one_pass_reading(False)
    try:
        own = _everything(pdf)
    finally:
        pdf_reading._use_one_pass_reading(True)
    return fast, own


def test_signed_certificates_read_as_pyhanko_reads_them(monkeypatch):
    """A signed demo certificate (WeasyPrint's objects, pyHanko's signature revision), the same with its file
    replaced in a third revision, and a document pyHanko writes with a cross-reference table: every object of
    every revision, the tables, the signature and the files are pyHanko's own reading's — and read plainly."""
    from certdocs import render
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import PdfFileWriter

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    signed = signing.DocumentSigner(keys.default_key(home.resolve())).sign(pdf, box)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    spec = writer.root["/Names"]["/EmbeddedFiles"]["/Names"][1]
    spec["/EF"]["/F"] = writer.add_object(generic.StreamObject(stream_data=b'{"total": 0.1}'))
    writer.update_container(spec["/EF"])
    changed = io.BytesIO()
    writer.write(changed)
    table = PdfFileWriter(stream_xrefs=False)
    table.root["/Lang"] = generic.TextStringObject("zh-CN (test) — 名")
    table.root["/Custom"] = generic.ArrayObject([generic.FloatObject("1.50"), generic.NumberObject(-3),
                                                 generic.BooleanObject(False), generic.NullObject()])
    written = io.BytesIO()
    table.write(written)

    fell_back = []
    plain = pdf_reading._plain_object

    def counted(*args):  # noqa: ANN002, ANN202
        try:
            return plain(*args)
        except pdf_reading._NotPlain:
            fell_back.append(args[0][args[1]:args[1] + 40])
            raise

    monkeypatch.setattr(pdf_reading, "_plain_object", counted)
    for document in (pdf, signed, changed.getvalue(), written.getvalue()):
        fast, own = _both_ways(document)
        assert fast == own
        assert fast[0] and fast[4] is not None
    assert not fell_back  # every object of these documents is plain


def test_the_shortcuts_are_installed_and_switch_off():
    from pyhanko.pdf_utils import generic, reader, xref

    pdf_reading.fast_pdf_reading()
    assert generic.read_object is pdf_reading._read_object
    assert generic.DictionaryObject.read_from_stream is pdf_reading._read_dictionary
    assert generic.StreamObject.read_from_stream is pdf_reading._read_dictionary
    assert generic.pdf_string is pdf_reading._pdf_string
    assert xref.parse_xref_stream is pdf_reading._XRefStreamEntries
    assert xref.XRefSectionData.process_entries is pdf_reading._processed_entries
    assert xref.read_object_header is reader.read_object_header is pdf_reading._object_header
    pdf_reading._use_one_pass_reading(False)
    assert generic.read_object is pdf_reading._pyhanko_read_object
    assert xref.XRefSectionData.process_entries is pdf_reading._pyhanko_process_entries
    pdf_reading._use_one_pass_reading(True)
    assert generic.read_object is pdf_reading._read_object


@pytest.mark.parametrize("data", [b"12 0 obj\n<<", b"12 0 obj<<", b"12 0 obj \r\n [", b"0012 00 obj 1", b"1 0 obj",
                                  b"1 0 obj ", b"1 0 obj %c\n<<", b"1 0 objx", b"1 0 xyz <<", b" 1 0 obj <<",
                                  b"%c\n1 0 obj <<", b"1  0 obj <<", b"1 0  obj <<", b"1\x000\x00obj\x00<<",
                                  b"1_0 0 obj <<", b"+1 0 obj <<", b"a 0 obj <<", b"1 b obj <<", b"1 0", b"1", b"",
                                  b"1\x0b0 obj <<", b"123456789012345678901 0 obj <<"])
@pytest.mark.parametrize("strict", [False, True])
def test_object_headers_read_as_pyhanko_reads_them(data, strict, caplog):
    caplog.set_level(logging.DEBUG, logger="pyhanko")

    def header(read) -> tuple:  # noqa: ANN001
        caplog.clear()
        stream = io.BytesIO(data)
        try:
            result = (read(stream, strict), stream.tell())
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            result = type(e)
        return result, [(r.levelname, r.getMessage()) for r in caplog.records]

    assert header(pdf_reading._object_header) == header(pdf_reading._pyhanko_object_header)
