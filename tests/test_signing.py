"""Keys, PAdES signing, verification and the tamper cases of issue 4."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import stat
import subprocess

import pytest
from certdocs import document, render
from cryptography.hazmat.primitives import serialization

from footprint.certificates import issuing, keys, signing, verification
from footprint.certificates.verification import DatabaseSource, ExportSource
from footprint.engine import home
from footprint.registry.records import Registry, read_export, write_export


@pytest.fixture(scope="session")
def demo_key() -> keys.SigningKey:
    return keys.default_key(home.resolve())


@pytest.fixture(scope="session")
def roots(demo_key) -> list:
    return keys.trust_roots(home.resolve())


@pytest.fixture(scope="session")
def signer(demo_key) -> signing.DocumentSigner:
    return signing.DocumentSigner(demo_key)


@pytest.fixture
def registry(tmp_path):
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as r:
        yield r


@pytest.fixture
def issued(registry, signer, tmp_path):
    return issuing.issue(registry, signer, "demo-park", tmp_path / "out", lambda r: document(r))


def names(verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in verdict.checks}


def verify(path, roots, registry, pdf=None, now=None):
    return verification.verify(path, roots, DatabaseSource(registry), now=now, pdf=pdf)


# ---- keys ----------------------------------------------------------------------------------


def test_demo_keys_are_owner_only_and_outside_the_repository(demo_key):
    folder = keys.keys_dir(home.resolve())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert demo_key.demo and "DEMO" in demo_key.holder
    for f in keys.trust_dir(home.resolve()).iterdir():
        assert b"PRIVATE KEY" not in f.read_bytes()
    assert not keys.ensure_demo(home.resolve()).created  # made once


def _key_pair(tmp_path, days=30, not_before=None, usage="sign"):
    ca_key, key = keys.new_key("ec"), keys.new_key("ec")
    ca = keys.make_ca("Test CB", "Test root", ca_key)
    leaf = keys.make_leaf("Test CB", "Test signer", key, ca, ca_key, days=days, not_before=not_before, purpose=usage)
    return key, leaf, ca


def test_wrong_passphrase_expired_and_mismatched_keys_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(keys.PASSPHRASE_ENV, raising=False)
    key, leaf, ca = _key_pair(tmp_path)
    p12 = tmp_path / "cb.p12"
    p12.write_bytes(keys.pkcs12_bytes(key, leaf, [ca], passphrase=b"correct horse"))
    assert keys.load(p12, b"correct horse").holder == "Test CB"
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "correct horse")
    assert keys.load(p12).holder == "Test CB"  # passphrase from the environment
    with pytest.raises(keys.KeyProblem, match="passphrase is wrong"):
        keys.load(p12, b"wrong")
    monkeypatch.delenv(keys.PASSPHRASE_ENV)
    with pytest.raises(keys.KeyProblem, match="no passphrase"):
        keys.load(p12)

    old_key, old_leaf, old_ca = _key_pair(tmp_path, days=10, not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    (tmp_path / "old.p12").write_bytes(keys.pkcs12_bytes(old_key, old_leaf, [old_ca]))
    with pytest.raises(keys.KeyProblem, match="expired on 2020-01-11"):
        keys.load(tmp_path / "old.p12")

    other = keys.new_key("ec")
    pkcs8 = (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)
    (tmp_path / "key.pem").write_bytes(other.private_bytes(*pkcs8, serialization.NoEncryption()))
    (tmp_path / "chain.pem").write_bytes(keys.pem(leaf) + keys.pem(ca))
    with pytest.raises(keys.KeyProblem, match="does not match the certificate"):
        keys.load(tmp_path / "key.pem", cert_path=tmp_path / "chain.pem")
    (tmp_path / "key.pem").write_bytes(key.private_bytes(*pkcs8, serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(keys.KeyProblem, match="wrong passphrase"):
        keys.load(tmp_path / "key.pem", b"nope", cert_path=tmp_path / "chain.pem")
    loaded = keys.load(tmp_path / "key.pem", b"pw", cert_path=tmp_path / "chain.pem")
    assert loaded.chain == (ca,)

    ts_key, ts_leaf, ts_ca = _key_pair(tmp_path, usage="timestamp")
    (tmp_path / "ts.p12").write_bytes(keys.pkcs12_bytes(ts_key, ts_leaf, [ts_ca]))
    with pytest.raises(keys.KeyProblem, match="nonRepudiation"):
        keys.load(tmp_path / "ts.p12")


# ---- a good certificate --------------------------------------------------------------------


def test_issued_certificate_verifies_and_pdfsig_agrees(issued, roots, registry):
    verdict = verify(issued.path, roots, registry)
    assert verdict.valid, verdict.reasons
    assert list(names(verdict)) == ["signature", "coverage", "signer", "number", "registry", "issuer", "data", "file",
                                    "status"]
    assert verdict.number == issued.record.number
    assert any("DEMO" in w for w in verdict.warnings)

    if not shutil.which("pdfsig"):
        pytest.skip("pdfsig (poppler-utils) not installed")
    out = subprocess.run(["pdfsig", str(issued.path)], capture_output=True, text=True, check=True).stdout
    assert "Signature is Valid." in out and "Total document signed" in out
    assert "Signature Field Name: CertificationBody" in out


def test_kept_signing_certificate_attribute_is_the_one_pyhanko_builds(demo_key, monkeypatch):
    """The signer builds the signing-certificate-v2 attribute once (signing.py): in each of three
    signatures the attribute is, byte for byte, the one pyHanko builds from the certificate itself, and
    every signature is intact."""
    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import attributes
    from pyhanko.sign.general import as_signing_certificate_v2
    from pyhanko.sign.validation import validate_pdf_signature

    from footprint.registry.records import Reservation

    kept = signing.DocumentSigner(demo_key)
    unsigned = document(Reservation("FP-T-2026-00001-X", "demo-park", 2026, 1)).pdf
    built = as_signing_certificate_v2(cms.Certificate.load(demo_key.cert.public_bytes(serialization.Encoding.DER)))
    builds = []
    pyhankos = attributes.SigningCertificateV2Provider.build_attr_value

    async def counted(self, dry_run=False):  # noqa: ANN001, ANN202
        builds.append(1)
        return await pyhankos(self, dry_run)

    monkeypatch.setattr(attributes.SigningCertificateV2Provider, "build_attr_value", counted)
    for _ in range(3):
        (sig,) = PdfFileReader(io.BytesIO(kept.sign(unsigned))).embedded_signatures
        (value,) = [a["values"][0] for a in sig.signer_info["signed_attrs"]
                    if a["type"].native == "signing_certificate_v2"]
        assert value.dump() == built.dump()
        assert validate_pdf_signature(sig).intact
    assert len(builds) == 1  # built by pyHanko for the first signature only


def test_signature_field_is_the_visible_box_and_pdfa_metadata_agree(issued):
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(issued.path.read_bytes()))
    field = reader.embedded_signatures[0].sig_field
    rect = [float(v) for v in field["/Rect"]]
    assert rect[2] - rect[0] > 150 and rect[3] - rect[1] > 50  # 65 mm × 25 mm box, not an invisible field
    info = reader.trailer["/Info"] if "/Info" in reader.trailer else {}
    xmp = reader.root["/Metadata"].data.decode()
    if "/Producer" in info:  # Info and XMP must agree for PDF/A
        assert str(info["/Producer"]) in xmp
    assert "pdfaid:part" in xmp or "pdfaid:part=" in xmp


def test_demo_key_refuses_a_document_without_demo_text(registry, signer, tmp_path):
    with pytest.raises(issuing.IssueError, match="DEMO"):
        issuing.issue(registry, signer, "demo-park", tmp_path / "out", lambda r: document(r, demo=False))
    assert registry.records() == [] and not list((tmp_path / "out").glob("*"))


def test_timestamped_signature_is_pades_b_t(demo_key, roots, registry, tmp_path):
    from tsa import LocalTSA

    with LocalTSA() as tsa:
        signer = signing.DocumentSigner(demo_key, tsa_url=tsa.url)
        assert signer.level == "PAdES B-T"
        issued = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r))
        assert tsa.requests == 1
    verdict = verify(issued.path, roots + [tsa.root], registry)
    assert verdict.valid, verdict.reasons
    assert names(verdict)["timestamp"]
    assert "B-T" in verdict.checks[0].detail
    untrusted_tsa = verify(issued.path, roots, registry)
    assert not untrusted_tsa.valid and not names(untrusted_tsa)["timestamp"]


# ---- tampering -----------------------------------------------------------------------------


def _incremental(pdf: bytes, change) -> bytes:  # noqa: ANN001
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_flipped_byte_is_detected(issued, roots, registry):
    pdf = bytearray(issued.path.read_bytes())
    at = pdf.index(b"stream\n") + 200
    pdf[at] ^= 0x01
    verdict = verify(issued.path, roots, registry, pdf=bytes(pdf))
    assert not verdict.valid
    assert names(verdict)["signature"] is False and "changed" in verdict.checks[0].detail


def test_number_changed_in_an_incremental_update_is_detected(issued, roots, registry):
    from pyhanko.pdf_utils import generic

    def change(w):  # noqa: ANN001
        page = w.root["/Pages"]["/Kids"][0]
        contents = page["/Contents"]
        stream = contents[0] if isinstance(contents, generic.ArrayObject) else contents
        data = stream.data
        new = re.sub(rb"\d+\.\d+", b"99.9", data, count=1)
        assert new != data
        replacement = generic.StreamObject(stream_data=new)
        page["/Contents"] = w.add_object(replacement)
        w.update_container(page)

    verdict = verify(issued.path, roots, registry, pdf=_incremental(issued.path.read_bytes(), change))
    assert not verdict.valid
    assert names(verdict)["signature"] and not names(verdict)["coverage"]
    assert "added after signing" in " ".join(verdict.reasons)
    assert names(verdict).get("file") is not True


def test_appended_unsigned_revision_is_detected(issued, roots, registry):
    from pyhanko.pdf_utils import generic

    def change(w):  # noqa: ANN001
        w.root["/Lang"] = generic.TextStringObject("en")
        w.update_root()

    verdict = verify(issued.path, roots, registry, pdf=_incremental(issued.path.read_bytes(), change))
    assert not verdict.valid and not names(verdict)["coverage"]


def test_replaced_embedded_json_is_detected(issued, roots, registry):
    from pyhanko.pdf_utils import generic

    def change(w):  # noqa: ANN001
        names_array = w.root["/Names"]["/EmbeddedFiles"]["/Names"]
        spec = names_array[1]
        ef = spec["/EF"]
        forged = generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
                                      stream_data=b'{"total": 0.1}')
        ef["/F"] = w.add_object(forged)
        w.update_container(ef)

    verdict = verify(issued.path, roots, registry, pdf=_incremental(issued.path.read_bytes(), change))
    assert not verdict.valid
    assert not names(verdict)["coverage"] and not names(verdict)["data"]
    assert "embedded data was replaced" in " ".join(verdict.reasons)


def test_resigned_with_an_untrusted_key_is_detected(issued, roots, registry, tmp_path):
    key, leaf, ca = _key_pair(tmp_path)
    forger = signing.DocumentSigner(keys.SigningKey(key, leaf, (ca,), "forger"))
    pdf, _, box = render(issued.record.number, total=0.5)
    forged = forger.sign(pdf, box)
    verdict = verify(issued.path, roots, registry, pdf=forged)
    assert not verdict.valid
    assert names(verdict)["signature"] and not names(verdict)["signer"]
    assert "does NOT chain to a trusted root" in " ".join(verdict.reasons)
    assert not names(verdict)["data"]  # and its data is not the registered data


def test_revoked_certificate_is_reported_revoked(issued, roots, registry):
    registry.revoke(issued.record.number, "data error found in audit")
    verdict = verify(issued.path, roots, registry)
    assert not verdict.valid and names(verdict) == {**names(verdict), "status": False}
    assert "REVOKED" in verdict.reasons[0] and "data error found in audit" in verdict.reasons[0]


def test_expired_certificate_is_reported_expired(registry, signer, roots, tmp_path):
    fresh = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, valid_days=30))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    assert "EXPIRED" in " ".join(verify(fresh.path, roots, registry, now=later).reasons)


def test_a_certificate_expired_at_issue_is_refused(registry, signer, tmp_path):
    with pytest.raises(issuing.IssueError, match="cannot be expired when issued"):
        issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(
            r, valid_from=dt.date.today() - dt.timedelta(days=400), valid_days=30))
    assert registry.records() == [] and not list(tmp_path.glob("*.pdf*"))


def test_unsigned_and_garbage_files_are_invalid(roots, registry, tmp_path):
    pdf, _, _ = render("FP-DEMO-PARK-2026-00001-2")
    assert "not signed" in verification.verify(tmp_path / "x.pdf", roots, None, pdf=pdf).reasons[0]
    assert "not a readable PDF" in verification.verify(tmp_path / "x.pdf", roots, None, pdf=b"hello").reasons[0]


# ---- offline verification against a signed export ------------------------------------------


def test_signed_registry_export_verifies_offline_and_shows_revocations(issued, registry, demo_key, roots, tmp_path):
    export = tmp_path / "registry-export.json"
    write_export(registry, demo_key, export)
    payload, signer_name = read_export(export, roots)
    source = ExportSource({r["number"]: verification.registry_record(r) for r in payload["certificates"]}, "export",
                          signer_name, payload)
    verdict = verification.verify(issued.path, roots, source)
    assert verdict.valid, verdict.reasons

    registry.revoke(issued.record.number, "withdrawn by the certification body")
    write_export(registry, demo_key, export)
    source = verification.load_export(export, roots)
    assert "REVOKED" in " ".join(verification.verify(issued.path, roots, source).reasons)

    tampered = export.read_text().replace('"withdrawn"', '"active"')
    export.write_text(tampered)
    with pytest.raises(ValueError, match="export was changed"):
        read_export(export, roots)
    with pytest.raises(ValueError, match="trusted root"):
        write_export(registry, demo_key, export)
        read_export(export, [])


def test_superseded_and_suspended_certificates_are_reported(issued, registry, signer, roots, tmp_path):
    number = issued.record.number
    registry.suspend(number, "surveillance audit pending")
    assert "SUSPENDED: surveillance audit pending" in " ".join(verify(issued.path, roots, registry).reasons)
    registry.reinstate(number, "audit passed")
    assert verify(issued.path, roots, registry).valid
    newer = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: document(r, total=9.0))
    assert f"SUPERSEDED by {newer.record.number}" in " ".join(verify(issued.path, roots, registry).reasons)
    assert verify(newer.path, roots, registry).valid


def test_an_export_signed_by_another_body_does_not_vouch_for_this_one(issued, registry, roots, tmp_path):
    key, leaf, ca = _key_pair(tmp_path)
    other = keys.SigningKey(key, leaf, (ca,), "other body")
    export = tmp_path / "other-export.json"
    write_export(registry, other, export)
    both = roots + [ca]
    verdict = verification.verify(issued.path, both, verification.load_export(export, both))
    assert not verdict.valid and "vouches only for certificates signed with its own key" in " ".join(verdict.reasons)
