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

from footprint.certificates import pdf_reading, verification

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
    pdf_reading._fast_pdf_tokens()
    assert _outcome(pdf_reading._read_until_delimiter, data, start) \
        == _outcome(pdf_reading._pyhanko_read_token, data, start)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_BYTES, _PADDED, st.integers(0, 300).map(lambda n: b" " * n + b"x")), st.integers(0, 50),
       st.booleans(), st.booleans())
def test_whitespace_skipped_in_one_step_as_pyhanko_skips_it(data, start, seek_back, allow_eof):
    pdf_reading._fast_pdf_tokens()
    assert _outcome(pdf_reading._read_non_whitespace, data, start, seek_back, allow_eof) \
        == _outcome(pdf_reading._pyhanko_read_non_whitespace, data, start, seek_back, allow_eof)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_BYTES, st.sampled_from([b"Type", b"ByteRange", b"A#20B", b"#41", b"x#", b"x#4", b"x#zz",
                                          "名".encode(), b"\xff", b""])))
def test_names_decoded_without_the_byte_loop_decode_as_pyhanko_decodes_them(name):
    pdf_reading._fast_pdf_tokens()

    def decoded(decode):  # noqa: ANN001, ANN202
        try:
            value = decode(name)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e)
        return type(value), value

    assert decoded(pdf_reading._decoded_name) == decoded(pdf_reading._pyhanko_decode_name)


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

    pdf_reading._fast_pdf_tokens()
    assert generic.read_until_delimiter is pdf_reading._read_until_delimiter
    assert generic._decode_name is pdf_reading._decoded_name
    assert generic.read_non_whitespace is misc.read_non_whitespace is pdf_reading._read_non_whitespace
    fast = read()
    monkeypatch.setattr(generic, "read_until_delimiter", pdf_reading._pyhanko_read_token)
    monkeypatch.setattr(generic, "_decode_name", pdf_reading._pyhanko_decode_name)
    monkeypatch.setattr(generic, "read_non_whitespace", pdf_reading._pyhanko_read_non_whitespace)
    monkeypatch.setattr(misc, "read_non_whitespace", pdf_reading._pyhanko_read_non_whitespace)
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


# literal strings as WeasyPrint writes them (octal escapes), and every way pyHanko's reader reads one differently
_LITERAL_BYTES = st.lists(st.sampled_from([b"a", b" ", b"\n", b"\r", b"\\", b"(", b")", b"0", b"3", b"4", b"7",
                                           b"8", b"n", b"\\055", b"\\072", b"\\377", b"\\400", b"\\05", b"\\\n",
                                           b"\\(", b"\\n", b"\xff", b"%"]), max_size=30).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_LITERAL_BYTES.map(lambda b: b"(" + b),
                 st.tuples(_LITERAL_BYTES, st.integers(4080, 4100)).map(lambda t: b"(" + b"x" * t[1] + t[0]),
                 _LITERAL_BYTES),
       st.sampled_from([b"", b")", b") /Next 1", b"))"]))
def test_literal_strings_read_in_one_step_read_as_pyhanko_reads_them(data, end):
    pdf_reading._fast_pdf_objects()
    assert _outcome(pdf_reading._read_literal_string, data + end, 0) \
        == _outcome(pdf_reading._pyhanko_read_literal, data + end, 0)


def _one_stream_reader(stream, strict: bool):  # noqa: ANN001, ANN202 - a pyHanko StreamObject; a PdfHandler
    """A pyHanko handler with what ``_get_object_from_stream`` uses of its reader: ``strict`` and the stream."""
    from pyhanko.pdf_utils.rw_common import PdfHandler

    class OneStreamReader(PdfHandler):
        def __init__(self) -> None:
            self.stream, self.strict = stream, strict

        def get_object(self, _ref, *_args, **_kwargs):  # noqa: ANN001, ANN202
            return self.stream

    return OneStreamReader()


_WHITE = st.sampled_from([b" ", b"\n", b"\r\n", b"\x00", b"\t ", b"  "])
_JUNK = [b"% a comment\n", b"3.0 12 ", b"+4 0 ", b"4,0 ", b"4 0", b"<< ", b"2 1.5 ", b"x "]
# a header entry: mostly plain (a number, whitespace, an offset, whitespace), one in five something pyHanko reads
# otherwise (a comment, a decimal, a sign, a comma, no whitespace after, not a number)
_ENTRY = st.tuples(st.integers(0, 4), st.sampled_from(_JUNK), st.integers(1, 4), _WHITE,
                   st.sampled_from([0, 3, 24, 35, 38, 43, 49, 55, 60, 65, 12, 99]), _WHITE) \
    .map(lambda t: t[1] if t[0] == 0 else b"%d%s%d%s" % t[2:])
# objects at 0, 3, 24, 35, 38, 43, 49, 55, 60; an unclosed string at 65; 12 and 99 read nothing whole
_BODIES = b"<< /A 1 /B [2 3 0 R] >> (a string) 42 [ /N 1.5 ] 7 0 R true null (open"


@settings(max_examples=600, deadline=None)
@given(st.lists(_ENTRY, min_size=1, max_size=6), st.sampled_from([0, 0, 0, -1, 1, 2]),
       st.sampled_from([0, 0, 0, -2, 1]), st.sampled_from(["/ObjStm"] * 4 + ["/XRef"]),
       st.lists(st.tuples(st.integers(1, 5), st.integers(-1, 5)), min_size=1, max_size=4),
       st.sampled_from([False, False, False, True]))
def test_objects_from_an_object_stream_read_as_pyhanko_reads_them(entries, extra, shift, kind, lookups, strict):
    """A header read once (plain, with comments, signs, decimals, too few entries, repeated numbers) gives every
    object, null, value or error that pyHanko's header walk gives, lookup after lookup in one reader."""
    from pyhanko.pdf_utils import generic

    pdf_reading._fast_pdf_objects()
    header = b"".join(entries)
    data = header + _BODIES

    def reader():  # noqa: ANN202
        fields = {"/Type": generic.NameObject(kind), "/N": generic.NumberObject(max(len(entries) + extra, 0)),
                  "/First": generic.NumberObject(max(len(header) + shift, 0))}
        return _one_stream_reader(generic.StreamObject({generic.NameObject(k): v for k, v in fields.items()},
                                                       stream_data=data), strict)

    def outcomes(read) -> list:  # noqa: ANN001
        one = reader()
        found = []
        for idnum, idx in lookups:
            try:
                obj = read(one, idnum, 7, idx)
            except Exception as e:  # noqa: BLE001 - the error is what is compared
                found.append(type(e))
            else:
                found.append((type(obj), obj))
        return found

    assert outcomes(pdf_reading._object_from_stream) == outcomes(pdf_reading._pyhanko_object_from_stream)


def test_a_signed_certificate_reads_as_with_pyhanko_s_own_strings_and_object_streams(monkeypatch):
    """Every object reachable from the trailer, the signature and the embedded files are the same with pyHanko's
    own literal-string reader and object-stream lookup, and the fast ones were used."""
    from certdocs import render
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    pdf = signing.DocumentSigner(keys.default_key(home.resolve())).sign(pdf, box)

    def read() -> tuple:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        [sig] = reader.embedded_regular_signatures
        return (_plain(reader.trailer_view, set()), sig.signed_data.dump(), sig.byte_range,
                verification.embedded_files(pdf, reader))

    pdf_reading._fast_pdf_objects()
    assert generic._read_string_literal_bytes is pdf_reading._read_literal_string
    assert PdfFileReader._get_object_from_stream is pdf_reading._object_from_stream
    used = []
    monkeypatch.setattr(pdf_reading, "_objstm_index", lambda *a: used.append(1) or _index(*a))
    fast = read()
    assert used
    monkeypatch.setattr(generic, "_read_string_literal_bytes", pdf_reading._pyhanko_read_literal)
    monkeypatch.setattr(PdfFileReader, "_get_object_from_stream", pdf_reading._pyhanko_object_from_stream)
    assert fast == read()


_index = pdf_reading._objstm_index


def test_readers_whose_object_streams_were_indexed_are_collected():
    """The index goes with its reader: a reader and everything it read are freed once verify is done with it."""
    import gc
    import weakref

    from certdocs import render
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    pdf = signing.DocumentSigner(keys.default_key(home.resolve())).sign(pdf, box)
    pdf_reading._fast_pdf_objects()
    readers = []
    for _ in range(3):
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        assert verification.embedded_files(pdf, reader)  # read from object streams
        assert reader.__dict__["_footprint_objstm_indexes"]
        readers.append(weakref.ref(reader))
        del reader
    gc.collect()
    assert [r() for r in readers] == [None, None, None]


def test_the_signer_s_certificate_extracted_and_checked_once_validates_as_pyhanko_does_it_twice(monkeypatch):
    """The same status, field by field, or the same error, with pyHanko's own extraction and signing-certificate
    check: an intact, an untrusted, a changed document, and one whose signing-certificate attribute names the
    CA's certificate instead of the signer's (refused both ways); and nothing kept from one reading to the next."""
    from asn1crypto import x509 as asn1_x509
    from certdocs import render
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import attributes
    from pyhanko.sign.validation import generic_cms

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    key = keys.default_key(home.resolve())
    roots = keys.trust_roots(home.resolve())
    now = dt.datetime.now(dt.UTC)
    signed = signing.DocumentSigner(key).sign(pdf, box)
    changed = bytearray(signed)
    changed[600] ^= 1
    ca = asn1_x509.Certificate.load(roots[0].public_bytes(serialization.Encoding.DER))
    own = attributes.SigningCertificateV2Provider.build_attr_value

    async def other_certificate(self, dry_run: bool = False):  # noqa: ANN001, ANN202
        return await own(attributes.SigningCertificateV2Provider(ca), dry_run)

    with monkeypatch.context() as m:
        m.setattr(attributes.SigningCertificateV2Provider, "build_attr_value", other_certificate)
        wrong = signing.DocumentSigner(key).sign(pdf, box)

    verification._signer_checked_once()
    once = (verification._certs_for_validation, verification._signing_certificate_checked)
    library = (verification._pyhanko_certs_for_validation, verification._pyhanko_check_signing_certificate)
    assert (generic_cms.extract_certs_for_validation, generic_cms._check_signing_certificate) == once

    def status(data: bytes, trusted: list, functions: tuple):  # noqa: ANN202
        monkeypatch.setattr(generic_cms, "extract_certs_for_validation", functions[0])
        monkeypatch.setattr(generic_cms, "_check_signing_certificate", functions[1])
        sig = PdfFileReader(io.BytesIO(data), strict=False).embedded_regular_signatures[0]
        try:
            s = verification._validated(sig, verification._validation_context(trusted, now))
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e), str(e)
        return (s.intact, s.valid, s.trusted, s.coverage, s.modification_level, s.trust_problem_indic,
                s.signer_reported_dt, s.signing_cert.dump(), s.md_algorithm)

    outcomes = {}
    for name, data, trusted in (("intact", signed, roots), ("untrusted", signed, []),
                                ("changed", bytes(changed), roots), ("other certificate", wrong, roots)):
        outcomes[name] = status(data, trusted, once)
        assert outcomes[name] == status(data, trusted, library) == status(data, trusted, once), name
    assert outcomes["intact"][:3] == (True, True, True) and outcomes["untrusted"][:3] == (True, True, False)
    assert outcomes["changed"][0] is False
    assert "Signing certificate attribute does not match" in str(outcomes["other certificate"])

    calls = []
    monkeypatch.setattr(verification, "_pyhanko_certs_for_validation", lambda sd: calls.append(sd) or library[0](sd))
    for _ in range(2):  # one extraction per reading of the document (pyHanko's alone: two each)
        status(signed, roots, once)
    assert len(calls) == 2 and calls[0] is not calls[1]


def test_a_certificate_parsed_before_is_the_one_validated_and_a_fresh_one_validates_the_same():
    """The signer's certificate of two readings of a document is one object, parsed whole (no child left as
    asn1crypto's raw tuple for a second thread to build), equal to the bytes in the signature; validated with
    and without it, the status is the same, field by field; a certificate over the size bound is not kept; the
    signing-certificate attribute is checked once per signature check."""
    from asn1crypto import core
    from asn1crypto import x509 as asn1_x509
    from certdocs import render
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko.pdf_utils.reader import PdfFileReader

    from footprint.certificates import keys, signing
    from footprint.engine import home

    pdf, _data, box = render("FP-DEMO-PARK-2026-00001-0")
    key = keys.default_key(home.resolve())
    roots = keys.trust_roots(home.resolve())
    now = dt.datetime.now(dt.UTC)
    signed = signing.DocumentSigner(key).sign(pdf, box)
    verification._signer_checked_once()

    def reading():  # noqa: ANN202 - pyHanko's embedded signature, its certificates and status
        sig = PdfFileReader(io.BytesIO(signed), strict=False).embedded_regular_signatures[0]
        certs = verification._certs_for_validation(sig.signed_data)
        s = verification._validated(sig, verification._validation_context(roots, now))
        return sig, certs, (s.intact, s.valid, s.trusted, s.coverage, s.trust_problem_indic, s.signing_cert.dump())

    first, second = reading(), reading()
    assert first[1].signer_cert is second[1].signer_cert
    assert first[1].signer_cert.dump() == first[0].signer_cert.dump() == key.cert.public_bytes(Encoding.DER)

    def built(value) -> bool:  # noqa: ANN001
        children = getattr(value, "children", None) or []
        return all(type(c) is not tuple and built(c) for c in children) and \
            (not isinstance(value, core.ParsableOctetString) or value._parsed is not None or not value.contents)

    assert built(first[1].signer_cert)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(verification, "_parsed_certificate", lambda cert: cert)
        fresh = reading()
    assert fresh[1].signer_cert is not first[1].signer_cert and fresh[2] == first[2] == second[2]
    assert first[2][:3] == (True, True, True)
    big = asn1_x509.Certificate.load(first[1].signer_cert.dump())
    m = pytest.MonkeyPatch()
    m.setattr(verification, "MAX_KEPT_CERTIFICATE_BYTES", len(big.dump()) - 1)
    try:
        assert verification._parsed_certificate(big) is big
    finally:
        m.undo()
    assert verification._parsed_certificate(big) is first[1].signer_cert
    # within one signature check, pyHanko's two checks of the signing-certificate attribute (the second on a
    # copy of the attributes) run once; outside one, each runs
    checks = []
    library = verification._pyhanko_check_signing_certificate
    with pytest.MonkeyPatch.context() as m:
        m.setattr(verification, "_pyhanko_check_signing_certificate", lambda c, a: checks.append(c) or library(c, a))
        verdict = verification.Verdict("x")
        verification._check_signature(signed, roots, verdict, now)
        assert verdict.valid and len(checks) == 1
        reading()
        assert len(checks) == 3
