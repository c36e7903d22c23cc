"""pyHanko's PDF object reader with exact shortcuts, installed once per process (verify and signing).

pyHanko reads a PDF one byte per call: hex and literal strings, names, numbers, keywords, whitespace,
and an object stream's header again for every object taken from it. Each shortcut here reads the plain
case in one step and hands anything else to pyHanko's own function from the same position, so results
and errors are pyHanko's (tests/test_verify_speed.py compares each with pyHanko's own).
"""

from __future__ import annotations

import binascii
import io
import re

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


def fast_pdf_reading() -> None:
    """pyHanko's object reader with this module's exact shortcuts (hex and literal strings, tokens, object
    streams; once per process); signing reads each new certificate with it too."""
    _fast_hex_strings()
    _fast_pdf_tokens()
    _fast_pdf_objects()
