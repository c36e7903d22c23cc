"""Verify decides from all facts (issue 15): a certificate without a readable number, re-signed by another
trusted body, or vouched for by another body's export is invalid; exports say how old they are; a
certificate says whether it was reviewed; a B-LTA certificate verifies after its signer expired."""

from __future__ import annotations

import datetime as dt
import hashlib

import certdocs
import pytest
from certdocs import document, render
from cryptography.hazmat.primitives import serialization

from footprint.certificates import issuing, keys, signing, verification
from footprint.certificates.verification import DatabaseSource
from footprint.engine import home
from footprint.registry.records import Registry, write_export


@pytest.fixture(scope="module")
def demo_key() -> keys.SigningKey:
    return keys.default_key(home.resolve())


@pytest.fixture(scope="module")
def roots(demo_key) -> list:
    return keys.trust_roots(home.resolve())


@pytest.fixture(scope="module")
def other_party(demo_key) -> keys.SigningKey:
    """Another body's key under the same trusted root (the demo CA): a trusted signature, not the issuer's."""
    ca_key = serialization.load_pem_private_key(
        (keys.keys_dir(home.resolve()) / keys.DEMO_CA_KEY_FILE).read_bytes(), None)
    key = keys.new_key("ec")
    leaf = keys.make_leaf("Other Party Ltd", "Other Party signer", key, demo_key.chain[0], ca_key)
    return keys.SigningKey(key, leaf, demo_key.chain, "other party")


@pytest.fixture
def registry(tmp_path):
    with Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}") as r:
        yield r


@pytest.fixture
def issued(registry, demo_key, tmp_path):
    return issuing.issue(registry, signing.DocumentSigner(demo_key), "demo-park", tmp_path / "out",
                         lambda r: document(r))


def checks(verdict) -> dict[str, bool]:
    return {c.name: c.ok for c in verdict.checks}


def test_a_forged_certificate_without_a_number_is_invalid(issued, registry, other_party, demo_key, roots, tmp_path,
                                                          monkeypatch):
    qr = certdocs.qr_svg
    monkeypatch.setattr(certdocs, "qr_svg", lambda payload: qr("sha256=" + payload.rsplit(":", 1)[1]))
    pdf, _, box = render("FP-FORGED", total=0.01)
    forged = signing.DocumentSigner(other_party).sign(pdf, box)
    for source in (DatabaseSource(registry), None):
        verdict = verification.verify(tmp_path / "forged.pdf", roots, source, pdf=forged)
        assert not verdict.valid
        assert checks(verdict)["signature"] and checks(verdict)["signer"]  # a trusted signature, but...
        assert not checks(verdict)["number"] and "no certificate number" in verdict.reasons[0]
    export = tmp_path / "export.json"  # the buyer's fresh data directory with the issuer's export
    write_export(registry, demo_key, export)
    verdict = verification.verify(tmp_path / "forged.pdf", roots, verification.load_export(export, roots), pdf=forged)
    assert not verdict.valid and not checks(verdict)["number"]


def test_a_certificate_resigned_by_another_trusted_body_is_invalid(issued, registry, other_party, roots, tmp_path):
    pdf, data, box = render(issued.record.number)  # the very same content, number and data
    assert hashlib.sha256(data).hexdigest() == issued.record.data_sha256
    resigned = signing.DocumentSigner(other_party).sign(pdf, box)
    verdict = verification.verify(tmp_path / "x.pdf", roots, DatabaseSource(registry), pdf=resigned)
    assert not verdict.valid and checks(verdict)["signer"] and checks(verdict)["registry"]
    assert not checks(verdict)["issuer"] and "Other Party Ltd" in verdict.reasons[0]


def test_an_export_vouches_only_for_its_own_key_not_its_name(issued, registry, demo_key, roots, tmp_path):
    ca_key, key = keys.new_key("ec"), keys.new_key("ec")
    ca = keys.make_ca(keys.DEMO_ORG, "a second root", ca_key)  # same organisation name, other key
    twin = keys.SigningKey(key, keys.make_leaf(keys.DEMO_ORG, "twin", key, ca, ca_key), (ca,), "twin")
    assert twin.holder == demo_key.holder and twin.key_id != demo_key.key_id
    export = tmp_path / "twin.json"
    write_export(registry, twin, export)
    both = roots + [ca]
    verdict = verification.verify(issued.path, both, verification.load_export(export, both))
    assert not verdict.valid and "vouches only for certificates signed with its own key" in verdict.reasons[0]

    own = tmp_path / "own.json"
    write_export(registry, demo_key, own)
    text = own.read_text().replace(demo_key.key_id, twin.key_id)  # claim another issuer key: the signature breaks
    own.write_text(text)
    with pytest.raises(ValueError, match="export was changed"):
        verification.load_export(own, both)


def test_an_export_states_its_age_and_a_later_revocation_shows_in_the_registry_or_a_newer_export(
        issued, registry, demo_key, roots, tmp_path):
    old = tmp_path / "old.json"
    write_export(registry, demo_key, old)
    registry.revoke(issued.record.number, "grid factor was wrong")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=12)
    stale = verification.verify(issued.path, roots, verification.load_export(old, roots), now=later)
    assert stale.valid  # the export was right when made ...
    assert any("12 days old" in f and "a revocation after it is not in it" in f for f in stale.facts)  # ... and says so
    assert "REVOKED" in " ".join(verification.verify(issued.path, roots, DatabaseSource(registry)).reasons)
    new = tmp_path / "new.json"
    write_export(registry, demo_key, new)
    assert "REVOKED" in " ".join(verification.verify(issued.path, roots, verification.load_export(new, roots)).reasons)


def test_verify_says_self_declared_or_reviewed_by_whom(registry, demo_key, roots, tmp_path):
    signer = signing.DocumentSigner(demo_key)

    def doc(reservation, **facts):
        d = document(reservation)
        return issuing.Document(d.pdf, d.data_sha256, d.box, {**d.facts, **facts})

    own = issuing.issue(registry, signer, "demo-park", tmp_path, lambda r: doc(r, self_declared=True))
    review = {"reviewer": "Li Wei (Demo Verification Ltd)", "reviewer_id": "li.wei", "decided_at": "2026-01-15T08:00",
              "bundle_sha256": "b" * 64, "comment": "ok", "entry_seq": 7, "entry_hash": "c" * 64}
    checked = issuing.issue(registry, signer, "demo-park", tmp_path / "b", lambda r: doc(r, product_id="b",
                                                                                          review=review))
    facts = verification.verify(own.path, roots, DatabaseSource(registry)).facts
    assert "self-declared: issued without a third-party review" in facts
    facts = verification.verify(checked.path, roots, DatabaseSource(registry)).facts
    assert any(f.startswith("third-party reviewed: approved by Li Wei (Demo Verification Ltd) on 2026-01-15, "
                            "audit entry 7") for f in facts)


def test_a_b_lta_certificate_verifies_after_its_signer_expired_and_can_be_timestamped_again(registry, roots, tmp_path):
    from tsa import LocalTSA

    ca_key, key = keys.new_key("ec"), keys.new_key("ec")
    ca = keys.make_ca("Short-lived CB", "root", ca_key)
    short = keys.SigningKey(key, keys.make_leaf("Short-lived CB", "signer", key, ca, ca_key, days=30), (ca,), "short")
    with LocalTSA() as tsa:  # its certificate is valid for 730 days
        lta = signing.DocumentSigner(short, tsa.url, tsa_roots=[tsa.root])
        assert lta.level == "PAdES B-LTA"
        issued = issuing.issue(registry, lta, "demo-park", tmp_path / "lta",
                               lambda r: document(r, demo=False, valid_days=1000))
        plain = issuing.issue(registry, signing.DocumentSigner(short, tsa.url), "demo-park", tmp_path / "bt",
                              lambda r: document(r, product_id="b", demo=False, valid_days=1000))
    trusted = roots + [ca, tsa.root]
    now = dt.datetime.now(dt.UTC)
    today = verification.verify(issued.path, trusted, DatabaseSource(registry), now=now)
    assert today.valid, today.reasons
    assert checks(today)["archive"] and "B-LTA" in today.checks[0].detail

    after = now + dt.timedelta(days=400)  # the signing certificate expired 370 days ago
    assert not verification.verify(plain.path, trusted, DatabaseSource(registry), now=after).valid  # B-T: no longer
    later = verification.verify(issued.path, trusted, DatabaseSource(registry), now=after)
    assert later.valid, later.reasons
    assert "when signed" in next(c.detail for c in later.checks if c.name == "signer")

    beyond = now + dt.timedelta(days=800)  # past the TSA certificate too: the archive must be renewed before
    assert not checks(verification.verify(issued.path, trusted, DatabaseSource(registry), now=beyond))["archive"]
    with LocalTSA(days=3650) as renewal:
        renewed = signing.add_document_timestamp(issued.path.read_bytes(), renewal.url, [tsa.root, renewal.root])
    registry.add_file(issued.record.number, hashlib.sha256(renewed).hexdigest(), "PAdES B-LTA", "renewed")
    path = tmp_path / "renewed.pdf"
    path.write_bytes(renewed)
    trusted.append(renewal.root)
    renewed_later = verification.verify(path, trusted, DatabaseSource(registry), now=beyond)
    assert renewed_later.valid, renewed_later.reasons
    assert "2 document timestamp(s)" in next(c.detail for c in renewed_later.checks if c.name == "archive")
    assert verification.verify(issued.path, trusted, DatabaseSource(registry), now=now).valid  # the first file still
    assert registry.audit_report().ok


def test_the_timestamp_command_renews_a_registered_b_lta_certificate(demo_key, tmp_path, monkeypatch):
    from tsa import LocalTSA
    from typer.testing import CliRunner

    from footprint.cli.main import app

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", url)
    with LocalTSA() as tsa, Registry(url) as registry:
        (tmp_path / "tsa.pem").write_bytes(keys.pem(tsa.root))
        issued = issuing.issue(registry, signing.DocumentSigner(demo_key, tsa.url, tsa_roots=[tsa.root]),
                               "demo-park", tmp_path / "out", lambda r: document(r))
        first = issued.path.read_bytes()
        run = CliRunner().invoke(app, ["timestamp", str(issued.path), "--tsa", tsa.url, "--tsa-root",
                                       str(tmp_path / "tsa.pem")])
        assert run.exit_code == 0, run.output
        renewed = issued.path.read_bytes()
        assert renewed.startswith(first) and len(renewed) > len(first)  # an incremental update: nothing rewritten
        record = registry.get(issued.record.number)
        assert record.pdf_sha256 == hashlib.sha256(renewed).hexdigest()
        assert record.pdf_history == [hashlib.sha256(first).hexdigest()]
        check = CliRunner().invoke(app, ["verify", str(issued.path), "--trust", str(tmp_path / "tsa.pem")])
        assert check.exit_code == 0 and "PASS archive" in check.output and "2 document timestamp(s)" in check.output
        (tmp_path / "forged.pdf").write_bytes(b"%PDF-1.7 not a certificate")
        refused = CliRunner().invoke(app, ["timestamp", str(tmp_path / "forged.pdf"), "--tsa", tsa.url])
        assert refused.exit_code == 1 and "does not verify" in refused.output
        assert registry.audit_report().ok
