"""Signing keys of a certification body, and the trust roots that verify them.

A real certification body signs with its own PKCS#12 file or a PEM key plus certificate chain.
Every way a key can be unusable (wrong passphrase, expired, key not matching the certificate,
missing key usage) is a :class:`KeyError_` raised *before* anything is rendered, so a failed run
never gets as far as consuming a certificate number.

``footprint keys demo`` makes a demo CA and a demo signing certificate in ``<home>/keys``
(directory 0700, files 0600) and puts the CA in ``<home>/trust``. Demo certificates carry
``DEMO`` in their organisation name; documents signed with them must say so visibly
(:attr:`SigningKey.demo`). Private key bytes are never logged or echoed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from footprint.files import write_atomic

DEMO_MARK = "DEMO"
DEMO_ORG = "footprint DEMO certification body"
DEMO_CA_FILE = "demo-ca.pem"
DEMO_CA_KEY_FILE = "demo-ca.key.pem"
DEMO_SIGNER_FILE = "demo-signer.p12"
PASSPHRASE_ENV = "FOOTPRINT_KEY_PASSPHRASE"
KEY_ENV = "FOOTPRINT_SIGNING_KEY"  # a server's signing key (footprint serve --signing-key)
CERT_ENV = "FOOTPRINT_SIGNING_CERT"  # its PEM certificate chain, for a PEM key


class KeyProblem(Exception):
    """A signing key or trust root that cannot be used, with a message a user can act on."""


@dataclass(frozen=True)
class SigningKey:
    """A private key with its certificate and the chain up to (and including) its root."""

    private_key: CertificateIssuerPrivateKeyTypes = field(repr=False)
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    source: str

    @property
    def demo(self) -> bool:
        """True for demo keys: documents they sign must say DEMO — NOT A VALID CERTIFICATION."""
        return is_demo(self.cert)

    @property
    def holder(self) -> str:
        """The certification body's name as its certificate states it."""
        return subject_name(self.cert)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def key_id(self) -> str:
        """SHA-256 of the public key (SubjectPublicKeyInfo): the same key under any certificate or name."""
        return key_id(self.cert)


def key_id(cert: x509.Certificate) -> str:
    """SHA-256 of a certificate's public key: how exports and verify tell one body's key from another's."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate (DER), as the registry records the signer of each certificate."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def is_demo(cert: x509.Certificate) -> bool:
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return any(DEMO_MARK in str(o) for o in orgs)


def subject_name(cert: x509.Certificate) -> str:
    """Organisation, else common name, of a certificate's subject."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return cert.subject.rfc4514_string()


def keys_dir(home: Path) -> Path:
    return home / "keys"


def trust_dir(home: Path) -> Path:
    return home / "trust"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- loading -------------------------------------------------------------------------------


def check(key: SigningKey, now: dt.datetime | None = None) -> SigningKey:
    """Refuse a key that does not match its certificate, is not yet or no longer valid, or cannot sign."""
    now = now or _now()
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.private_key.public_key().public_bytes(*spki) != key.cert.public_key().public_bytes(*spki):
        raise KeyProblem(f"{key.source}: the private key does not match the certificate of {key.holder!r}")
    if now > key.cert.not_valid_after_utc:
        raise KeyProblem(f"{key.source}: the signing certificate of {key.holder!r} expired on "
                         f"{key.cert.not_valid_after_utc:%Y-%m-%d}")
    if now < key.cert.not_valid_before_utc:
        raise KeyProblem(f"{key.source}: the signing certificate of {key.holder!r} is not valid before "
                         f"{key.cert.not_valid_before_utc:%Y-%m-%d}")
    try:
        usage = key.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature and usage.content_commitment):
        raise KeyProblem(f"{key.source}: the signing certificate lacks the digitalSignature and nonRepudiation "
                         "key usages that document signatures require")
    return key


def _order_chain(cert: x509.Certificate, others: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The issuers of ``cert`` in order, as far as ``others`` has them."""
    chain: list[x509.Certificate] = []
    current = cert
    pool = [c for c in others if c != cert]
    while current.issuer != current.subject:
        issuer = next((c for c in pool if c.subject == current.issuer), None)
        if issuer is None:
            break
        chain.append(issuer)
        pool.remove(issuer)
        current = issuer
    return tuple(chain + pool)


def load_pkcs12(path: Path, passphrase: bytes | None = None, now: dt.datetime | None = None) -> SigningKey:
    """A PKCS#12 file's key, certificate and chain; passphrase ``None`` reads ``FOOTPRINT_KEY_PASSPHRASE``."""
    path = Path(path)
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyProblem(f"cannot read key file {path}: {e.strerror}") from None
    try:
        key, cert, others = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        hint = "no passphrase was given" if not passphrase else "the passphrase is wrong"
        raise KeyProblem(f"{path}: cannot open the PKCS#12 file ({hint}, or it is not PKCS#12)") from None
    except TypeError as e:  # encrypted without a passphrase, or a passphrase for an unencrypted file
        raise KeyProblem(f"{path}: {e}") from None
    if key is None or cert is None:
        raise KeyProblem(f"{path}: the PKCS#12 file must hold a private key and its certificate")
    return check(SigningKey(key, cert, _order_chain(cert, list(others)), str(path)), now)  # type: ignore[arg-type]


def load_pem(key_path: Path, cert_path: Path, passphrase: bytes | None = None,
             now: dt.datetime | None = None) -> SigningKey:
    """A PEM private key and a PEM file with the signing certificate first, then its chain."""
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode()
    try:
        key_bytes, cert_bytes = Path(key_path).read_bytes(), Path(cert_path).read_bytes()
    except OSError as e:
        raise KeyProblem(f"cannot read {e.filename}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(key_bytes, passphrase)
    except TypeError:
        raise KeyProblem(f"{key_path}: the key is encrypted; give its passphrase in ${PASSPHRASE_ENV}") from None
    except ValueError:
        raise KeyProblem(f"{key_path}: cannot decrypt the private key (wrong passphrase, or not a PEM key)") from None
    certs = _load_certs(Path(cert_path), cert_bytes)
    return check(SigningKey(key, certs[0], _order_chain(certs[0], certs[1:]), str(key_path)), now)  # type: ignore[arg-type]


def _load_certs(path: Path, data: bytes | None = None) -> list[x509.Certificate]:
    try:
        data = path.read_bytes() if data is None else data
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except OSError as e:
        raise KeyProblem(f"cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise KeyProblem(f"{path}: not a PEM or DER certificate") from None
    return certs


def load(path: Path, passphrase: bytes | None = None, cert_path: Path | None = None) -> SigningKey:
    """A PKCS#12 file, or a PEM key when ``cert_path`` (certificate + chain) is given."""
    if cert_path is not None:
        return load_pem(path, cert_path, passphrase)
    return load_pkcs12(path, passphrase)


def configured_key(home: Path) -> SigningKey:
    """The signing key a server process was configured with: ``$FOOTPRINT_SIGNING_KEY`` (PKCS#12, or a PEM key
    with ``$FOOTPRINT_SIGNING_CERT``; passphrase ``$FOOTPRINT_KEY_PASSPHRASE``), else the data directory's
    demo key, whose documents say DEMO. Read from the environment because every worker process of
    ``footprint serve`` loads it anew; no passphrase is ever prompted for."""
    path = os.environ.get(KEY_ENV)
    if not path:
        return default_key(home)
    chain = os.environ.get(CERT_ENV)
    return load(Path(path), cert_path=Path(chain) if chain else None)


def trust_roots(home: Path, extra: list[Path] | None = None) -> list[x509.Certificate]:
    """Roots configured in ``<home>/trust`` plus any given on the command line."""
    roots: list[x509.Certificate] = []
    folder = trust_dir(home)
    if folder.is_dir():
        for p in sorted(folder.glob("*.pem")):
            roots.extend(_load_certs(p))
    for p in extra or []:
        roots.extend(_load_certs(Path(p)))
    return roots


# ---- creating ------------------------------------------------------------------------------


def _private_write(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only, with no window where it is world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    write_atomic(path, data, 0o600)


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(kind: str = "rsa") -> CertificateIssuerPrivateKeyTypes:
    """RSA-3072 (widest reader support) or EC P-256 (fast; used by tests)."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def make_ca(org: str, cn: str, key: CertificateIssuerPrivateKeyTypes, days: int = 3650,
            not_before: dt.datetime | None = None) -> x509.Certificate:
    """A self-signed root able to sign certificates and nothing else."""
    start = not_before or _now() - dt.timedelta(minutes=5)
    name = _name(org, cn)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def make_leaf(org: str, cn: str, key: CertificateIssuerPrivateKeyTypes, ca: x509.Certificate,
              ca_key: CertificateIssuerPrivateKeyTypes, days: int = 730, not_before: dt.datetime | None = None,
              purpose: str = "sign") -> x509.Certificate:
    """A document-signing (digitalSignature + nonRepudiation) or timestamping certificate issued by ``ca``."""
    start = not_before or _now() - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(_name(org, cn)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=purpose == "sign",
                                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if purpose == "timestamp":
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def pkcs12_bytes(key: CertificateIssuerPrivateKeyTypes, cert: x509.Certificate, chain: list[x509.Certificate],
                 passphrase: bytes | None = None, name: str = "signer") -> bytes:
    enc = (serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(name.encode(), key, cert, chain, enc)  # type: ignore[arg-type]


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class DemoKeys:
    ca_cert: Path
    signer: Path
    created: bool


def ensure_demo(home: Path, force: bool = False, kind: str = "rsa") -> DemoKeys:
    """Create the demo CA and signing certificate once (or again with ``force``) in the data directory."""
    folder = keys_dir(home)
    ca_file, signer_file = folder / DEMO_CA_FILE, folder / DEMO_SIGNER_FILE
    if ca_file.exists() and signer_file.exists() and not force:
        return DemoKeys(ca_file, signer_file, False)
    ca_key, signer_key = new_key(kind), new_key(kind)
    ca = make_ca(DEMO_ORG, "footprint DEMO root CA - not for real certification", ca_key)
    leaf = make_leaf(DEMO_ORG, "DEMO certification body - NOT A VALID CERTIFICATION", signer_key, ca, ca_key)
    _private_write(folder / DEMO_CA_KEY_FILE, ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _private_write(signer_file, pkcs12_bytes(signer_key, leaf, [ca], name="footprint-demo-signer"))
    _private_write(ca_file, pem(ca))
    trust = trust_dir(home)
    trust.mkdir(parents=True, exist_ok=True)
    (trust / DEMO_CA_FILE).write_bytes(pem(ca))
    return DemoKeys(ca_file, signer_file, True)


def default_key(home: Path) -> SigningKey:
    """The demo signing key of the data directory, created on first use."""
    return _load_demo(ensure_demo(home).signer)


def _load_demo(path: Path) -> SigningKey:
    # the demo PKCS#12 has no passphrase: do not let FOOTPRINT_KEY_PASSPHRASE (meant for --key) interfere
    key, cert, others = pkcs12.load_key_and_certificates(path.read_bytes(), None)
    if key is None or cert is None:
        raise KeyProblem(f"{path}: damaged demo key; run `footprint keys demo --force`")
    return check(SigningKey(key, cert, _order_chain(cert, list(others)), str(path)))  # type: ignore[arg-type]
