"""What issue 17's last step changed in verify, each replacement of a library function read or compared as
the library's own (random inputs, edges of the 256-byte window, every failure), and a signature validated
on the thread's own event loop as pyHanko validates it with a new loop."""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footprint.certificates import verification

# every byte class pyHanko's tokenizer tells apart: regular, whitespace, delimiters, '#', comments, controls, non-ASCII
_BYTES = st.lists(st.sampled_from(list(b"aZ09.-+ \n\r\t\f\x00()<>[]{}/%#\x01\x7f\x80\xff")), max_size=40).map(bytes)
_PADDED = st.tuples(_BYTES, st.integers(0, 300), _BYTES).map(lambda t: t[0] + b"A" * t[1] + t[2])


def _outcome(read, data: bytes, start: int, *args):  # noqa: ANN001, ANN202
    """What a reader gives from ``start``: its value and type and where it left the stream, or its error's type."""
    stream = io.BytesIO(data)
    stream.seek(min(start, len(data)))
    try:
        value = read(stream, *args)
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        return type(e)
    return type(value), value, stream.tell()


@settings(max_examples=400, deadline=None)
@given(st.one_of(_BYTES, _PADDED), st.integers(0, 50))
def test_tokens_read_in_one_step_read_as_pyhanko_reads_them(data, start):
    verification._fast_pdf_tokens()
    assert _outcome(verification._read_until_delimiter, data, start) \
        == _outcome(verification._pyhanko_read_token, data, start)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_BYTES, _PADDED, st.integers(0, 300).map(lambda n: b" " * n + b"x")), st.integers(0, 50),
       st.booleans(), st.booleans())
def test_whitespace_skipped_in_one_step_as_pyhanko_skips_it(data, start, seek_back, allow_eof):
    verification._fast_pdf_tokens()
    assert _outcome(verification._read_non_whitespace, data, start, seek_back, allow_eof) \
        == _outcome(verification._pyhanko_read_non_whitespace, data, start, seek_back, allow_eof)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_BYTES, st.sampled_from([b"Type", b"ByteRange", b"A#20B", b"#41", b"x#", b"x#4", b"x#zz",
                                          "名".encode(), b"\xff", b""])))
def test_names_decoded_without_the_byte_loop_decode_as_pyhanko_decodes_them(name):
    verification._fast_pdf_tokens()

    def decoded(decode):  # noqa: ANN001, ANN202
        try:
            value = decode(name)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)
        return type(value), value

    assert decoded(verification._decoded_name) == decoded(verification._pyhanko_decode_name)


def _plain(obj, seen: set):  # noqa: ANN001, ANN202 - a pyHanko object
    """A pyHanko object and everything it refers to as plain Python values (streams with their raw bytes)."""
    from pyhanko.pdf_utils import generic

    if isinstance(obj, generic.IndirectObject):
        key = (obj.idnum, obj.generation)
        if key in seen:
            return ("ref", *key)
        seen.add(key)
        return ("ref", *key, _plain(obj.get_object(), seen))
    if isinstance(obj, generic.StreamObject):
        return ("stream", {k: _plain(obj.raw_get(k), seen) for k in obj}, obj.encoded_data)
    if isinstance(obj, dict):
        return {k: _plain(obj.raw_get(k), seen) for k in obj}
    if isinstance(obj, list):
        return [_plain(obj.raw_get(i), seen) for i in range(len(obj))]
    return (type(obj).__name__, obj)


def test_a_signed_certificate_reads_as_with_pyhanko_s_own_tokenizer(monkeypatch):
    """Every object reachable from the trailer, and the signature found, are the same with pyHanko's functions."""
    from certdocs import render
    from pyhanko.pdf_utils import generic, misc
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    pdf = signing.DocumentSigner(keys.default_key(home.resolve())).sign(pdf, box)

    def read() -> tuple:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        [sig] = reader.embedded_regular_signatures
        return _plain(reader.trailer_view, set()), sig.signed_data.dump(), sig.byte_range

    verification._fast_pdf_tokens()
    assert generic.read_until_delimiter is verification._read_until_delimiter
    assert generic._decode_name is verification._decoded_name
    assert generic.read_non_whitespace is misc.read_non_whitespace is verification._read_non_whitespace
    fast = read()
    monkeypatch.setattr(generic, "read_until_delimiter", verification._pyhanko_read_token)
    monkeypatch.setattr(generic, "_decode_name", verification._pyhanko_decode_name)
    monkeypatch.setattr(generic, "read_non_whitespace", verification._pyhanko_read_non_whitespace)
    monkeypatch.setattr(misc, "read_non_whitespace", verification._pyhanko_read_non_whitespace)
    assert fast == read()


@pytest.mark.parametrize(("this", "other"), [
    ({"common_name": "Demo CA", "country_name": "CN"}, {"common_name": "Demo CA", "country_name": "CN"}),
    ({"common_name": "Demo CA"}, {"common_name": "demo   ca "}),  # equal by RFC 5280 (case, spaces)
    ({"common_name": "演示认证机构"}, {"common_name": "演示认证机构"}),
    ({"common_name": "Demo CA"}, {"common_name": "Demo CB"}),
    ({"common_name": "Demo CA"}, {"common_name": "Demo CA", "country_name": "CN"}),
    ({"common_name": "x" * 2000}, {"common_name": "x" * 2000}),  # past 1 KiB: compared afresh
    ({"common_name": "bad\u0340value"}, {"common_name": "bad\u0340value"}),  # asn1crypto refuses to prepare it
])
def test_names_compared_by_their_encodings_compare_as_asn1crypto_compares_them(this, other):
    from asn1crypto.x509 import GeneralName, Name

    verification._remembered_name_preparation()
    assert Name.__eq__ is verification._names_equal
    a, b = Name.build(this), Name.build(other)

    def compared(equal):  # noqa: ANN001, ANN202
        try:
            return equal(a, b), equal(b, a), equal(a, "not a name")
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)

    first = compared(verification._names_equal)
    assert first == compared(verification._asn1_name_eq) == compared(verification._names_equal)  # remembered too
    assert Name.hashable.fget is verification._name_hashable

    def hashable(name, form):  # noqa: ANN001, ANN202
        try:
            return form(name)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)

    for name in (a, b):
        assert hashable(name, verification._name_hashable) == hashable(name, verification._asn1_name_hashable.fget) \
            == hashable(name, verification._name_hashable)
    # as pyHanko meets them: a name inside a GeneralName is context-tagged, the certificate's issuer is not
    tagged = GeneralName(name="directory_name", value=Name.build(this)).chosen
    assert tagged.dump() != a.dump()
    assert hashable(tagged, verification._name_hashable) == hashable(a, verification._asn1_name_hashable.fget)
    for x, y in ((tagged, a), (a, tagged), (tagged, b), (b, tagged)):
        try:
            expected = verification._asn1_name_eq(x, y)
        except Exception as e:  # noqa: BLE001
            expected = type(e)
        with pytest.raises(expected) if isinstance(expected, type) else contextlib.nullcontext():
            assert verification._names_equal(x, y) is expected


def test_a_signature_validates_on_the_thread_loop_as_on_a_new_loop():
    """The same status, field by field, for an intact, a trusted-elsewhere and a changed document."""
    from certdocs import render
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    pdf = signing.DocumentSigner(keys.default_key(home.resolve())).sign(pdf, box)
    roots = keys.trust_roots(home.resolve())
    now = dt.datetime.now(dt.UTC)
    changed = bytearray(pdf)
    changed[600] ^= 1  # inside the signed range, before the signature
    outcomes = []
    for data, trusted in ((pdf, roots), (pdf, []), (bytes(changed), roots)):
        sig = PdfFileReader(io.BytesIO(data), strict=False).embedded_regular_signatures[0]

        def status(validate):  # noqa: ANN001, ANN202
            try:
                s = validate(sig, verification._validation_context(trusted, now))  # noqa: B023 - used at once
            except Exception as e:  # noqa: BLE001 - the error is what is compared
                return type(e), str(e)
            return (s.intact, s.valid, s.trusted, s.coverage, s.modification_level, s.trust_problem_indic,
                    s.signer_reported_dt, s.signing_cert.dump(), s.md_algorithm, s.timestamp_validity)

        outcomes.append(status(verification._validated))
        assert outcomes[-1] == status(validate_pdf_signature) == status(verification._validated)
    assert outcomes[0][:3] == (True, True, True) and outcomes[1][:3] == (True, True, False)
    assert outcomes[2][0] is False  # not intact: the signed bytes changed
