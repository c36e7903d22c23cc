"""pyHanko's PDF object reader with exact shortcuts, installed once per process (verify and signing).

pyHanko reads a PDF one byte per call: hex and literal strings, names, numbers, keywords, whitespace,
and an object stream's header again for every object taken from it; it reads a cross-reference stream's
fields with a closure and ``struct`` each and makes an entry object per row. The token shortcuts read the
plain case in one step; the one-pass reading reads a whole plain object (dictionary, array, names,
numbers, references, strings, keywords) with one regular expression over the bytes, and a plain
cross-reference stream's rows with ``int.from_bytes``. Each hands anything else to pyHanko's own function
from the same position, so results, errors and warnings are pyHanko's (tests/test_verify_speed.py and
tests/test_pdf_reading.py compare each with pyHanko's own).
"""

from __future__ import annotations

import binascii
import codecs
import decimal
import io
import re
import threading

_HEX_STRING = re.compile(rb"<([0-9A-Fa-f]*)>")
_HEX_CHUNK = 1 << 20
_pyhanko_read_hex = None


def _read_hex_string(stream):  # noqa: ANN001, ANN202 - pyHanko's stream and string object
    """pyHanko's hex-string reader, in one step when the string is hex digits only (up to 1 MiB).

    A signature's ``/Contents`` is ~13,000 hex digits, which pyHanko reads one byte per call: 10 ms of
    each verify. Anything else between ``<`` and ``>`` (whitespace, a comment, a bad character, no ``>``)
    is read by pyHanko's own reader, so the result and the errors are pyHanko's.
    """
    from pyhanko.pdf_utils.generic import pdf_string

    start = stream.tell()
    match = _HEX_STRING.match(stream.read(_HEX_CHUNK))
    if match is None:
        stream.seek(start)
        return _pyhanko_read_hex(stream)  # type: ignore[misc]
    stream.seek(start + match.end())
    digits = match.group(1)
    return pdf_string(binascii.unhexlify(digits + b"0" if len(digits) % 2 else digits))


def _fast_hex_strings() -> None:
    """Have pyHanko's object reader use :func:`_read_hex_string` (once per process)."""
    global _pyhanko_read_hex
    from pyhanko.pdf_utils import generic

    if _pyhanko_read_hex is None:
        _pyhanko_read_hex = generic.read_hex_string_from_stream
        generic.read_hex_string_from_stream = _read_hex_string


_DELIMITED = b" \n\r\t\f\x00()<>[]{}/%"  # pyHanko's PDF_WHITESPACE + PDF_DELIMITERS
_TOKEN = re.compile(b"[^" + re.escape(_DELIMITED) + b"]*")
_TOKEN_CHUNK = 256
_PLAIN_NAME = re.compile(b"[" + re.escape(bytes(c for c in range(0x21, 0x7F) if c not in _DELIMITED + b"#")) + b"]*")
_WHITESPACE = re.compile(b"[ \n\r\t\f\x00]*")
_pyhanko_read_token = None
_pyhanko_decode_name = None
_pyhanko_read_non_whitespace = None


def _read_until_delimiter(stream) -> bytes:  # noqa: ANN001 - pyHanko's stream
    """pyHanko's ``read_until_delimiter`` (a name, a number, a keyword) in one step instead of one byte per
    call: the bytes up to the next whitespace or delimiter, left unread, or up to the end. A token that
    does not end within 256 bytes is read by pyHanko's own function."""
    start = stream.tell()
    chunk = stream.read(_TOKEN_CHUNK)
    end = _TOKEN.match(chunk).end()  # type: ignore[union-attr] - matches the empty string at least
    if end < len(chunk):
        stream.seek(start + end)
        return chunk[:end]
    if len(chunk) < _TOKEN_CHUNK:  # the stream ended: pyHanko's leaves it at the end too
        return chunk
    stream.seek(start)
    return _pyhanko_read_token(stream)  # type: ignore[misc]


def _read_non_whitespace(stream, seek_back: bool = False, allow_eof: bool = False) -> bytes:  # noqa: ANN001
    """pyHanko's ``read_non_whitespace`` in one step instead of one byte per call: skips whitespace, returns
    the next byte (consumed unless ``seek_back``). A comment, or the end of the stream within 256 bytes,
    is handed to pyHanko's own function (which skips comments, or raises or returns ``b''`` at the end)."""
    start = stream.tell()
    chunk = stream.read(_TOKEN_CHUNK)
    end = _WHITESPACE.match(chunk).end()  # type: ignore[union-attr] - matches the empty string at least
    if end < len(chunk) and chunk[end] != 0x25:  # b"%"
        stream.seek(start + end + (0 if seek_back else 1))
        return chunk[end:end + 1]
    stream.seek(start)
    return _pyhanko_read_non_whitespace(stream, seek_back, allow_eof)  # type: ignore[misc]


def _decoded_name(name_bytes: bytes):  # noqa: ANN202 - pyHanko NameObject
    """pyHanko's ``_decode_name`` without its byte loop for a name of printable ASCII without ``#`` escapes
    (every name of a certificate); any other is decoded (or refused) by pyHanko's own function."""
    from pyhanko.pdf_utils.generic import NameObject

    if _PLAIN_NAME.fullmatch(name_bytes):
        return NameObject("/" + name_bytes.decode("ascii"))
    return _pyhanko_decode_name(name_bytes)  # type: ignore[misc]


def _fast_pdf_tokens() -> None:
    """Have pyHanko's object reader use :func:`_read_until_delimiter`, :func:`_read_non_whitespace` and
    :func:`_decoded_name` (once per process): the tokens of the cross-reference streams, the signature
    dictionary and the form fields, read one byte per call, were a fifth of the signature check."""
    global _pyhanko_read_token, _pyhanko_decode_name, _pyhanko_read_non_whitespace
    from pyhanko.pdf_utils import generic, misc

    if _pyhanko_read_token is None:
        _pyhanko_read_token, _pyhanko_decode_name = generic.read_until_delimiter, generic._decode_name
        _pyhanko_read_non_whitespace = misc.read_non_whitespace
        generic.read_until_delimiter, generic._decode_name = _read_until_delimiter, _decoded_name
        generic.read_non_whitespace = misc.read_non_whitespace = _read_non_whitespace


# a literal string of bytes other than parentheses and backslashes, and three-digit octal escapes of bytes
_PLAIN_LITERAL = re.compile(rb"\(((?:[^()\\]|\\[0-3][0-7][0-7])*)\)")
_OCTAL_ESCAPE = re.compile(rb"\\([0-3][0-7][0-7])")
_LITERAL_CHUNK = 4096
_pyhanko_read_literal = None


def _read_literal_string(stream) -> bytes:  # noqa: ANN001 - pyHanko's stream
    """pyHanko's ``_read_string_literal_bytes`` in one step for a string closed within 4 KiB with no
    parentheses inside and no escapes but three-digit octal ones (WeasyPrint writes ``-`` and ``:`` so),
    which pyHanko reads one byte per call; any other string is read by pyHanko's own function."""
    start = stream.tell()
    match = _PLAIN_LITERAL.match(stream.read(_LITERAL_CHUNK))
    if match is None:
        stream.seek(start)
        return _pyhanko_read_literal(stream)  # type: ignore[misc]
    stream.seek(start + match.end())
    text = match.group(1)
    return _OCTAL_ESCAPE.sub(lambda m: bytes((int(m.group(1), 8),)), text) if b"\\" in text else text


# one header entry of an object stream as pyHanko reads it when it is plain: whitespace, the object's number,
# whitespace, its offset, whitespace, then a byte that is not a comment ('+,-.' and digits continue a number)
_WS = rb"[ \n\r\t\f\x00]*"
_OBJSTM_ENTRY = re.compile(_WS + rb"([0-9]+)(?![+,\-.0-9])" + _WS + rb"([0-9]+)(?![+,\-.0-9])" + _WS + rb"(?=[^%])")
_pyhanko_object_from_stream = None


def _object_from_stream(reader, idnum: int, stmnum: int, idx: int):  # noqa: ANN001, ANN202 - pyHanko's reader, object
    """pyHanko's ``_get_object_from_stream`` with the object stream's header read once per reader (and kept on
    it, so it goes with it): pyHanko reads the header's numbers from the start, one byte per call, for every
    object it takes from the stream. The index is used when the reader is not strict, every one of the
    stream's ``/N`` entries is plain (:data:`_OBJSTM_ENTRY`), the object is listed and reads without error;
    anything else is read (or refused, with pyHanko's warning) by pyHanko's own function."""
    from pyhanko.pdf_utils import generic, misc

    if not reader.strict:
        stream = generic.Reference(stmnum, 0, reader).get_object()
        indexes = reader.__dict__.setdefault("_footprint_objstm_indexes", {})  # {stream number: (stream, index)}
        kept = indexes.get(stmnum)
        if kept is None or kept[0] is not stream:
            kept = indexes[stmnum] = (stream, _objstm_index(stream, idx))
        index = kept[1]
        if index is not None and 0 <= idx < index[0] and idnum in index[3]:
            data = io.BytesIO(index[1])
            data.seek(index[2] + index[3][idnum])
            try:
                obj = generic.read_object(data, generic.Reference(idnum, 0, reader))
            except misc.PdfReadError:
                obj = None
            if obj is not None:
                if not isinstance(obj, (generic.StreamObject, generic.IndirectObject)):
                    generic.read_non_whitespace(data, seek_back=True, allow_eof=True)
                return obj
    return _pyhanko_object_from_stream(reader, idnum, stmnum, idx)  # type: ignore[misc]


def _objstm_index(stream, idx: int) -> tuple[int, bytes, int, dict[int, int]] | None:  # noqa: ANN001 - pyHanko's
    """(/N, decoded data, /First, object number → offset of its first entry) of an object stream whose every
    header entry is plain, so pyHanko would read each as :data:`_OBJSTM_ENTRY` does; None for anything else, and
    before decoding anything when ``idx`` is out of range (pyHanko decodes nothing then)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.decode_limits import DecodePurpose

    try:
        if not isinstance(stream, generic.StreamObject) or stream["/Type"] != "/ObjStm":
            return None
        count = stream["/N"]
        if type(count) is not generic.NumberObject or not 0 <= idx < count:
            return None
        data = stream.read_data(DecodePurpose.OBJECT_STREAM)
        first = stream["/First"]  # in pyHanko's order: the type, /N, the data, then /First
        if type(first) is not generic.NumberObject:
            return None
    except Exception:  # noqa: BLE001 - pyHanko's own function meets (and reports) the same
        return None
    offsets: dict[int, int] = {}
    pos = 0
    for _ in range(count):
        match = _OBJSTM_ENTRY.match(data, pos)
        if match is None:
            return None
        offsets.setdefault(int(match.group(1)), int(match.group(2)))
        pos = match.end()
    return count, data, first, offsets


def _fast_pdf_objects() -> None:
    """Have pyHanko's reader use :func:`_read_literal_string` and :func:`_object_from_stream` (once per process)."""
    global _pyhanko_read_literal, _pyhanko_object_from_stream
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    if _pyhanko_read_literal is None:
        _pyhanko_read_literal, _pyhanko_object_from_stream = \
            generic._read_string_literal_bytes, PdfFileReader._get_object_from_stream
        generic._read_string_literal_bytes = _read_literal_string
        PdfFileReader._get_object_from_stream = _object_from_stream


# ---- whole objects -------------------------------------------------------------------------------------------

_DELIMITER_CLASS = re.escape(_DELIMITED)
# one token of an object as pyHanko's ``read_object`` reads it when it is plain, after PDF whitespace (no
# comments): a name of plain characters and two-digit '#' escapes followed by a delimiter or whitespace; a reference
# (``IndirectObject.read_from_stream``: bytes.isspace() between the numbers, PDF whitespace before the R), which
# pyHanko reads only when its INDIRECT_PATTERN finds one in the 20 bytes from the first digit (checked after); an
# integer or a real (pyHanko reads the bytes up to the first that is not '+,-.' or a digit, then int() or
# Decimal() of them) — an unsigned integer only when nothing like a reference follows it; a dictionary's or array's
# brackets; a hex string's '<' (its digits up to the '>' are checked by unhexlify); a literal string as
# :func:`_read_literal_string` reads it in one step (three-digit octal escapes only); a keyword
_NUMBER_END = rb"(?![+,\-.0-9])"
_OBJECT_TOKEN = re.compile(
    rb"[ \n\r\t\f\x00]*+(?:/(?P<name>" + _PLAIN_NAME.pattern + rb"+(?:#[0-9A-Fa-f]{2}" + _PLAIN_NAME.pattern
    + rb"+)*+)(?=[" + _DELIMITER_CLASS + rb"])"
    rb"|(?P<ref>([0-9]++)[ \t\n\r\f]++([0-9]++)[ \t\n\r\f][ \t\n\r\f\x00]*+R)"
    rb"|(?P<int>[0-9]{1,30}+)" + _NUMBER_END + rb"(?![ \t\n\r\f\v]+[0-9]+[ \t\n\r\f\v]+R)"
    rb"|(?P<signed>[+-][0-9]{1,30}+)" + _NUMBER_END
    + rb"|(?P<real>[+-]?+(?:[0-9]{1,30}+\.[0-9]{0,30}+|\.[0-9]{1,30}+))" + _NUMBER_END
    + rb"|(?P<end_dict>>>)|(?P<dict><<)|(?P<array>\[)|(?P<end_array>\])"
    rb"|(?P<hex><)|\((?P<literal>[^()\\]*+(?:\\[0-3][0-7][0-7][^()\\]*+)*+)\)"
    rb"|(?P<true>true)|(?P<false>false)|(?P<null>null))")
_INDIRECT_WINDOW = 20  # pyHanko's read_object looks for a reference in the 20 bytes from a number's first digit
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_MAX_DEPTH = 32
_generic = None  # pyHanko's generic module, once installed (imported late: it is slow to import)
_pyhanko_read_object = None
_pyhanko_read_dictionary = None


class _NotPlain(Exception):
    """Raised inside :func:`_plain_object` at the first byte it leaves to pyHanko."""


def _plain_object(buf: bytes, start: int, container_ref):  # noqa: ANN001, ANN202 - pyHanko's reference; (object, end, dict)
    """The object pyHanko's ``read_object`` reads from ``buf`` at ``start`` (not in a content stream), when every
    token of it is plain (:data:`_OBJECT_TOKEN`), nested at most 32 deep, with no key twice in a dictionary; raises
    :class:`_NotPlain` at the first thing that is not. Returns (object, position after it, None), or for a
    dictionary at the top (None, position after its ``>>``, its entries): whether a stream follows is pyHanko's to
    read. Every value inside gets ``container_ref``, as pyHanko's ``read_object`` gives it."""
    generic = _generic
    if buf[start:start + 1] in (b"", b" ", b"\n", b"\r", b"\t", b"\f", b"\x00"):
        raise _NotPlain  # pyHanko's read_object does not skip whitespace
    name_object, number_object, indirect = generic.NameObject, generic.NumberObject, generic.IndirectObject
    token, pos, stack, keys, key, in_dict, handler = _OBJECT_TOKEN.match, start, [], [], None, False, None
    while True:
        m = token(buf, pos)
        if m is None:
            raise _NotPlain
        kind = m.lastgroup
        pos = m.end()
        if in_dict and key is None:  # a dictionary's key or its end
            if kind == "name":
                raw = m.group("name")
                key = name_object("/" + raw.decode("ascii")) if b"#" not in raw else _name(raw)
                if key in stack[-1]:
                    raise _NotPlain  # pyHanko warns (or refuses, when strict)
                continue
            if kind != "end_dict":
                raise _NotPlain
            entries = stack.pop()
            key = keys.pop()
            if not stack:
                return None, pos, entries
            in_dict = type(stack[-1]) is dict
            value = generic.DictionaryObject(entries)
        elif kind == "name":
            raw = m.group("name")
            value = name_object("/" + raw.decode("ascii")) if b"#" not in raw else _name(raw)
        elif kind == "ref":
            start_ref = m.start("ref")
            idnum = int(m.group(3))
            if idnum == 0 or not generic.INDIRECT_PATTERN.match(buf, start_ref, start_ref + _INDIRECT_WINDOW):
                raise _NotPlain  # pyHanko refuses it, or reads a number
            if handler is None:
                handler = (container_ref.get_pdf_handler(),)
            value = indirect(idnum, int(m.group(4)), handler[0])
        elif kind == "int" or kind == "signed":
            value = int.__new__(number_object, int(m.group(kind)))  # NumberObject(text), without its __new__
        elif kind == "real":
            value = decimal.Decimal.__new__(generic.FloatObject, m.group("real").decode("ascii"))  # FloatObject(text)
        elif kind == "dict" or kind == "array":
            if len(stack) >= _MAX_DEPTH:
                raise _NotPlain
            in_dict = kind == "dict"
            stack.append({} if in_dict else generic.ArrayObject())
            keys.append(key)  # the entry it is the value of, when it is in a dictionary
            key = None
            continue
        elif kind == "end_array":
            if not stack or in_dict:
                raise _NotPlain
            value = stack.pop()
            key = keys.pop()
            in_dict = bool(stack) and type(stack[-1]) is dict
        elif kind == "hex":  # up to the next '>', hex digits only (unhexlify refuses anything else)
            end = buf.find(b">", pos)
            if end < 0:
                raise _NotPlain
            digits = buf[pos:end]
            try:
                value = _pdf_string(binascii.unhexlify(digits + b"0" if len(digits) % 2 else digits))
            except binascii.Error:
                raise _NotPlain from None
            pos = end + 1
        elif kind == "literal":
            text = m.group("literal")
            value = _pdf_string(
                _OCTAL_ESCAPE.sub(lambda o: bytes((int(o.group(1), 8),)), text) if b"\\" in text else text)
        elif kind == "null":
            value = generic.NullObject()
        elif kind == "true" or kind == "false":
            value = generic.BooleanObject(kind == "true")
        else:  # a dictionary's end where no dictionary is open
            raise _NotPlain
        if not stack:
            return value, pos, None
        value.container_ref = container_ref  # as pyHanko's read_object sets it on every value it reads
        if key is not None:
            stack[-1][key] = value
            key = None
        else:
            stack[-1].append(value)


def _name(raw: bytes):  # noqa: ANN202 - pyHanko's NameObject
    """pyHanko's ``_decode_name`` of a name's bytes (after the ``/``) that :data:`_OBJECT_TOKEN` matched with
    ``#`` escapes: expanded, decoded as UTF-8, else as Latin-1."""
    raw = b"/" + _NAME_ESCAPE.sub(lambda e: bytes((int(e.group(1), 16),)), raw)
    try:
        return _generic.NameObject(raw.decode("utf8"))
    except ValueError:
        return _generic.NameObject(raw.decode("latin1"))


def _dictionary_or_stream(stream, entries: dict, handler, as_metadata_stream: bool):  # noqa: ANN001, ANN202
    """The end of pyHanko's ``DictionaryObject.read_from_stream`` (not in a content stream), after the ``>>``: a
    stream when pyHanko's own ``_maybe_read_stream_payload`` finds one, else the dictionary."""
    generic = _generic
    stream_data = generic._maybe_read_stream_payload(stream, entries, handler)
    if stream_data is None:
        return generic.DictionaryObject(entries)
    stm_cls = generic.StreamObject
    if as_metadata_stream:
        from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

        stm_cls = MetadataStream
    return stm_cls(entries, encoded_data=stream_data)


def _parsed(stream, container_ref):  # noqa: ANN001, ANN202 - pyHanko's stream and reference
    """:func:`_plain_object` at the stream's position, or None (nothing read) for anything not plain."""
    if type(stream) is not io.BytesIO:
        return None
    start = stream.tell()
    try:
        return _plain_object(stream.getvalue(), start, container_ref)  # the bytes it holds, not a copy
    except Exception:  # noqa: BLE001 - _NotPlain, or anything else: pyHanko's to read (or to refuse)
        return None


def _read_object(stream, container_ref, as_metadata_stream: bool = False, in_content_stream=None):  # noqa: ANN001, ANN202
    """pyHanko's ``generic.read_object`` in one pass over the bytes for a plain object (:func:`_plain_object`)
    in a file's body or an object stream; anything else (a content stream, a comment, an escape, ...) is read
    by pyHanko's own function from the same position."""
    generic = _generic
    if in_content_stream is None:
        in_content_stream = generic.ContentOpReading.NO
    parsed = _parsed(stream, container_ref) if in_content_stream is generic.ContentOpReading.NO else None
    if parsed is None:
        return _pyhanko_read_object(stream, container_ref, as_metadata_stream, in_content_stream)  # type: ignore[misc]
    obj, end, entries = parsed
    stream.seek(end)
    if entries is not None:
        obj = _dictionary_or_stream(stream, entries, container_ref.get_pdf_handler(), as_metadata_stream)
    obj.container_ref = container_ref
    return obj


def _read_dictionary(stream, container_ref, as_metadata_stream: bool = False, in_content_stream=None):  # noqa: ANN001, ANN202
    """pyHanko's ``DictionaryObject.read_from_stream`` (a cross-reference stream's dictionary, a trailer) in one
    pass for a plain dictionary; anything else is read by pyHanko's own function from the same position."""
    generic = _generic
    if in_content_stream is None:
        in_content_stream = generic.ContentOpReading.NO
    parsed = _parsed(stream, container_ref) if in_content_stream is generic.ContentOpReading.NO else None
    if parsed is None or parsed[2] is None:
        return _pyhanko_read_dictionary(stream, container_ref, as_metadata_stream, in_content_stream)  # type: ignore[misc]
    stream.seek(parsed[1])
    return _dictionary_or_stream(stream, parsed[2], container_ref.get_pdf_handler(), as_metadata_stream)


def _fast_whole_objects() -> None:
    """Have pyHanko read objects with :func:`_read_object` and dictionaries with :func:`_read_dictionary` (once
    per process)."""
    global _generic, _pyhanko_read_object, _pyhanko_read_dictionary
    from pyhanko.pdf_utils import generic

    if _pyhanko_read_object is None:
        _generic = generic
        _pyhanko_read_object = generic.read_object
        _pyhanko_read_dictionary = generic.DictionaryObject.read_from_stream
        generic.read_object = _read_object
        generic.DictionaryObject.read_from_stream = staticmethod(_read_dictionary)


# ---- text strings --------------------------------------------------------------------------------------------

_BOMS = (codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF8)
_pdfdoc_table: dict[int, str] | None = None
_pdfdoc_undefined = None
_pyhanko_pdf_string = None


def _pdf_string(string):  # noqa: ANN001, ANN202 - bytes or str; pyHanko's string object
    """pyHanko's ``pdf_string`` for bytes without a byte-order mark in one step: a ``TextStringObject`` of their
    PDFDocEncoding (one translation instead of pyHanko's generator step per byte), or a ``ByteStringObject`` when
    a byte is one PDFDocEncoding leaves undefined (where pyHanko's decoding fails: a signature's 6.5 KB
    ``/Contents``). Anything else (a BOM, a str, a bytearray) is pyHanko's own function's."""
    generic = _generic
    if type(string) is not bytes or string.startswith(_BOMS):
        return _pyhanko_pdf_string(string)  # type: ignore[misc]
    if _pdfdoc_undefined.search(string):  # type: ignore[union-attr]
        return generic.ByteStringObject(string)
    text = generic.TextStringObject(string.decode("latin-1").translate(_pdfdoc_table))  # type: ignore[arg-type]
    text.autodetected_encoding = generic.TextStringEncoding.PDF_DOC
    return text


def _fast_text_strings() -> None:
    """Have pyHanko make string objects with :func:`_pdf_string` (once per process)."""
    global _pdfdoc_table, _pdfdoc_undefined, _pyhanko_pdf_string
    from pyhanko.pdf_utils import generic

    if _pyhanko_pdf_string is None:
        table = generic._pdfDocEncoding
        _pdfdoc_table = {i: c for i, c in enumerate(table) if c != chr(i)}
        _pdfdoc_undefined = re.compile(b"[" + re.escape(bytes(i for i, c in enumerate(table) if c == "\u0000")) + b"]")
        _pyhanko_pdf_string = generic.pdf_string
        generic.pdf_string = _pdf_string


# ---- cross-reference streams ---------------------------------------------------------------------------------

_pyhanko_parse_xref_stream = None
_pyhanko_process_entries = None


def _xref_rows(xref_stream, strict: bool):  # noqa: ANN001, ANN202 - pyHanko's stream; (rows, trailing data) or None
    """The entries of a plain cross-reference stream as (object number, type, field 2, field 3), and whether data
    trails the last row, cut from the decoded rows with ``int.from_bytes`` (pyHanko reads each field with a
    closure, a read and ``struct``); None when it is not plain. Plain: ``/W`` three integers of 0 to 8 bytes (8
    signed, as pyHanko's ``struct`` reads them), ``/Index`` (or ``[0 /Size]``) pairs of non-negative integers in
    increasing order, every row complete in the data. ``/Index``, ``/Size``, ``/W`` and the data are read as
    pyHanko reads them, in the same order (their errors are pyHanko's)."""
    from pyhanko.pdf_utils import xref
    from pyhanko.pdf_utils.decode_limits import DecodePurpose

    number = _generic.NumberObject
    idx_pairs = xref_stream.get("/Index", [0, xref_stream.get("/Size")])
    widths = xref_stream.get("/W")
    if not (isinstance(idx_pairs, list) and len(idx_pairs) % 2 == 0 and isinstance(widths, list)
            and len(widths) == 3 and all(type(w) is number and 0 <= w <= 8 for w in widths)
            and all(type(n) is number or (type(n) is int and i == 0 and len(idx_pairs) == 2)
                    for i, n in enumerate(idx_pairs))):
        return None
    last_end = 0
    for i in range(0, len(idx_pairs), 2):
        if idx_pairs[i] < last_end or idx_pairs[i + 1] < 0:
            return None
        last_end = idx_pairs[i] + idx_pairs[i + 1]
    data = xref_stream.read_data(DecodePurpose.XREF_STREAM,
                                 expected_size=xref._expected_xref_stream_size(idx_pairs, widths))
    w0, w1, w2 = (int(w) for w in widths)
    row = w0 + w1 + w2
    if len(data) < row * sum(int(idx_pairs[i + 1]) for i in range(0, len(idx_pairs), 2)):
        return None  # an incomplete entry: pyHanko's to read (or refuse, when strict)
    from_bytes, rows, pos = int.from_bytes, [], 0
    for i in range(0, len(idx_pairs), 2):
        for num in range(idx_pairs[i], idx_pairs[i] + idx_pairs[i + 1]):
            rows.append((num, from_bytes(data[pos:pos + w0], "big", signed=w0 == 8) if w0 else 1,
                         from_bytes(data[pos + w0:pos + w0 + w1], "big", signed=w1 == 8) if w1 else 0,
                         from_bytes(data[pos + w0 + w1:pos + row], "big", signed=w2 == 8) if w2 else 0))
            pos += row
    return rows, len(data) > pos


class _XRefStreamEntries:
    """What pyHanko's ``parse_xref_stream(xref_stream, strict)`` returns, as an iterable: iterating it yields the
    same ``XRefEntry`` objects (pyHanko's own generator's when the stream is not plain) and raises the same errors
    at the same points; nothing is read before it is iterated. :func:`_processed_entries` takes its rows
    directly."""

    def __init__(self, xref_stream, strict: bool = True) -> None:  # noqa: ANN001 - pyHanko's StreamObject
        self.xref_stream, self.strict = xref_stream, strict

    def __iter__(self):  # noqa: ANN204 - an iterator of pyHanko's XRefEntry
        from pyhanko.pdf_utils import misc, xref

        read = _xref_rows(self.xref_stream, self.strict)
        if read is None:
            yield from _pyhanko_parse_xref_stream(self.xref_stream, self.strict)  # type: ignore[misc]
            return
        entry, kinds, stream_ref = xref.XRefEntry, xref.XRefType, xref.ObjStreamRef
        for num, kind, one, two in read[0]:
            if kind == 1:
                yield entry(xref_type=kinds.STANDARD, idnum=num, location=one, generation=two)
            elif kind == 2:
                yield entry(xref_type=kinds.IN_OBJ_STREAM, idnum=num, location=stream_ref(one, two))
            elif kind == 0:
                yield entry(xref_type=kinds.FREE, idnum=num, generation=two, location=None)
        if read[1] and self.strict:
            raise misc.PdfStrictReadError("Trailing data in cross-reference stream")


def _processed_entries(self, entries, strict: bool):  # noqa: ANN001, ANN202 - XRefSectionData; highest number
    """pyHanko's ``XRefSectionData.process_entries`` from a plain stream's rows (:func:`_xref_rows`) without an
    ``XRefEntry`` per row, filling the same tables in the same order; any other entries are pyHanko's to process."""
    from pyhanko.pdf_utils import misc, xref

    read = _xref_rows(entries.xref_stream, entries.strict) if type(entries) is _XRefStreamEntries else None
    if read is None:
        if type(entries) is _XRefStreamEntries:
            entries = _pyhanko_parse_xref_stream(entries.xref_stream, entries.strict)  # type: ignore[misc]
        return _pyhanko_process_entries(self, entries, strict)  # type: ignore[misc]
    highest_id, stream_ref = 0, xref.ObjStreamRef
    standard, in_streams, freed = self.standard_xrefs, self.xrefs_in_objstm, self.freed
    explicit, streams_used = self.explicit_refs_in_revision, self.obj_streams_used
    for idnum, kind, one, two in read[0]:
        if kind not in (0, 1, 2):
            continue  # pyHanko's parser yields nothing for an unknown type
        generation = 0 if kind == 2 else two
        highest_id = max(idnum, highest_id)
        if generation > 0xFFFF:
            if strict:
                raise misc.PdfStrictReadError(f"Illegal generation {generation} for object ID {idnum}.")
            continue
        if idnum == 0:
            continue
        if kind == 1:
            standard[idnum] = (generation, one)
            explicit.add((idnum, generation))
        elif kind == 2:
            in_streams[idnum] = stream_ref(one, two)
            streams_used.add(one)
            explicit.add((idnum, 0))
        else:
            freed[idnum] = generation
            explicit.add((idnum, generation - 1))
    if read[1] and entries.strict:
        raise misc.PdfStrictReadError("Trailing data in cross-reference stream")
    return highest_id


def _fast_xref_streams() -> None:
    """Have pyHanko read cross-reference streams with :class:`_XRefStreamEntries` and
    :func:`_processed_entries` (once per process)."""
    global _pyhanko_parse_xref_stream, _pyhanko_process_entries
    from pyhanko.pdf_utils import xref

    if _pyhanko_parse_xref_stream is None:
        _pyhanko_parse_xref_stream = xref.parse_xref_stream
        _pyhanko_process_entries = xref.XRefSectionData.process_entries
        xref.parse_xref_stream = _XRefStreamEntries
        xref.XRefSectionData.process_entries = _processed_entries


# ---- object headers -----------------------------------------------------------------------------------------

# "12 0 obj" as pyHanko's _read_object_header reads it without a warning: digits, one whitespace byte, digits, one
# whitespace byte, three bytes (it does not look at them: here "obj"), whitespace up to a byte that is not a comment
_OBJECT_HEADER = re.compile(rb"([0-9]{1,20})[ \n\r\t\f\x00]([0-9]{1,20})[ \n\r\t\f\x00]obj[ \n\r\t\f\x00]*+(?=[^%])")
_pyhanko_object_header = None


def _object_header(stream, strict: bool) -> tuple[int, int]:  # noqa: ANN001 - pyHanko's stream
    """pyHanko's ``read_object_header`` (an object's "12 0 obj") in one step instead of one byte per call for a
    plain header (:data:`_OBJECT_HEADER`); any other is read (or refused, with pyHanko's warning) by its own."""
    if type(stream) is io.BytesIO:
        m = _OBJECT_HEADER.match(stream.getvalue(), stream.tell())
        if m is not None:
            stream.seek(m.end())
            return int(m.group(1)), int(m.group(2))
    return _pyhanko_object_header(stream, strict)  # type: ignore[misc]


def _fast_object_headers() -> None:
    """Have pyHanko's reader and cross-reference reader use :func:`_object_header` (once per process)."""
    global _pyhanko_object_header
    from pyhanko.pdf_utils import reader, xref

    if _pyhanko_object_header is None:
        _pyhanko_object_header = xref.read_object_header
        xref.read_object_header = reader.read_object_header = _object_header


# ---- installing ---------------------------------------------------------------------------------------------


def fast_pdf_reading() -> None:
    """pyHanko's object reader with this module's exact shortcuts (hex and literal strings, tokens, object
    streams, whole objects, string objects, cross-reference streams; once per process); signing reads each new
    certificate with it too. Under one lock: two threads installing at once (two first verifies, or a verify
    and a signing) could keep a replacement as pyHanko's own function, which would then call itself."""
    with _INSTALLING:
        _fast_hex_strings()
        _fast_pdf_tokens()
        _fast_pdf_objects()
        _fast_whole_objects()
        _fast_text_strings()
        _fast_xref_streams()
        _fast_object_headers()


_INSTALLING = threading.Lock()


def _use_one_pass_reading(on: bool) -> None:
    """Switch the one-pass reading (:func:`_read_object`, :func:`_read_dictionary`, :func:`_pdf_string`,
    :class:`_XRefStreamEntries`, :func:`_processed_entries`, :func:`_object_header`) on or off: the tests and
    benchmarks/bench_pdf_reading.py compare it with pyHanko's own reading."""
    from pyhanko.pdf_utils import generic, reader, xref

    fast_pdf_reading()
    xref.read_object_header = reader.read_object_header = _object_header if on else _pyhanko_object_header
    xref.parse_xref_stream = _XRefStreamEntries if on else _pyhanko_parse_xref_stream
    xref.XRefSectionData.process_entries = _processed_entries if on else _pyhanko_process_entries
    generic.pdf_string = _pdf_string if on else _pyhanko_pdf_string
    generic.read_object = _read_object if on else _pyhanko_read_object
    generic.DictionaryObject.read_from_stream = staticmethod(_read_dictionary if on else _pyhanko_read_dictionary)
