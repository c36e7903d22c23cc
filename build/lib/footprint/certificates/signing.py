"""PAdES signatures on certificate PDFs (pyHanko): baseline B-B, B-T with an RFC 3161 timestamp, or B-LTA.

B-LTA (a TSA and its trusted root given): the signature's validation data (certificates, and the
revocation data their issuers publish) go into the document security store and a document
timestamp covers everything, so the certificate still verifies after the signing certificate
expires. :func:`add_document_timestamp` adds a newer document timestamp before the last one's TSA
certificate expires (``footprint timestamp``).

The signature field is the certificate's visible signature box: the documents layer draws the box
(with the signer's name, and DEMO for demo keys) with WeasyPrint, so every glyph is an embedded
font, and tells us where it is; we put the field's widget on that rectangle with an empty
appearance (pyHanko's own stamp would use a non-embedded Courier and break PDF/A).

Speed: pyHanko's ``SimpleSigner`` re-parses the private key at every signature and, without
``bytes_reserved``, signs twice (a dry run to size the placeholder). :class:`DocumentSigner` keeps
the parsed key and reserves a size computed from the chain, so one signature is one RSA operation.
The signing-certificate-v2 attribute (RFC 5035: the signer certificate's hash, issuer and serial) is
the same in every signature of a key, and asn1crypto rebuilds it from the certificate each time
(~14 ms of ~24): the signer builds it once and hands pyHanko a parsed copy of those bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.stamp import NoOpStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from footprint.certificates.keys import SigningKey

FIELD_NAME = "CertificationBody"
#: hex characters reserved for the CMS object on top of the certificates, and for a timestamp token
_BASE_RESERVE = 8192
_TIMESTAMP_RESERVE = 24576


@dataclass(frozen=True)
class SignatureBox:
    """Where the visible signature box is: 0-based page index and (x1, y1, x2, y2) in PDF points."""

    page: int
    rect: tuple[float, float, float, float]


class _KeptKeySigner(signers.SimpleSigner):
    """``SimpleSigner`` that signs with an already parsed key instead of re-parsing it each time."""

    def __init__(self, key: SigningKey):
        self._key = key.private_key
        der = key.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        certs = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in key.chain]
        super().__init__(
            signing_cert=asn1_x509.Certificate.load(key.cert.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs(certs),
        )
        del der
        self._kept: dict[str, bytes] = {}  # the signing-certificate-v2 value's DER, once built

    def _signed_attr_provider_spec(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - pyHanko's signature
        return _KeptSigningCertificate(super()._signed_attr_provider_spec(*args, **kwargs), self.signing_cert,
                                       self._kept)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._key, RSAPrivateKey):
            return self._key.sign(data, PKCS1v15(), hash_algo)
        if mechanism == "ecdsa" and isinstance(self._key, EllipticCurvePrivateKey):
            return self._key.sign(data, ECDSA(hash_algo))
        return super().sign_raw(data, digest_algorithm)


class _KeptSigningCertificate(attributes.SignedAttributeProviderSpec):
    """pyHanko's signed attributes, with the signing-certificate-v2 value built once per signer."""

    def __init__(self, spec: attributes.SignedAttributeProviderSpec, cert: asn1_x509.Certificate,
                 values: dict[str, bytes]):
        self._spec, self._cert, self._values = spec, cert, values  # values: the signer's, kept across signatures

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):  # noqa: ANN201 - an iterable
        for provider in self._spec.signed_attr_providers(data_digest, digest_algorithm):
            if type(provider) is attributes.SigningCertificateV2Provider and provider.signing_cert is self._cert:
                provider = _KeptValue(provider, self._values)
            yield provider


class _KeptValue(attributes.SigningCertificateV2Provider):
    """The provider's value from its first build, as a freshly parsed copy of that value's bytes."""

    def __init__(self, provider: attributes.SigningCertificateV2Provider, values: dict):
        super().__init__(provider.signing_cert)
        self._values = values

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        if "der" not in self._values:
            self._values["der"] = (await super().build_attr_value(dry_run)).dump()
        return tsp.SigningCertificateV2.load(self._values["der"])


class DocumentSigner:
    """Signs certificate PDFs for one certification body key; reuse it for many documents."""

    def __init__(self, key: SigningKey, tsa_url: str | None = None, timeout: float = 10,
                 tsa_roots: list | None = None):
        """``tsa_roots`` (the roots the TSA's certificate chains to) turn a B-T signature into B-LTA."""
        from footprint.certificates.pdf_reading import fast_pdf_reading

        fast_pdf_reading()  # pyHanko reads each document before it writes the signature
        self.key = key
        self.tsa_url = tsa_url
        self._archive_roots = None
        if tsa_url and tsa_roots is not None:
            self._archive_roots = [*key.chain[-1:], *tsa_roots] if key.chain else [key.cert, *tsa_roots]
        self._signer = _KeptKeySigner(key)
        self._timestamper = None
        if tsa_url:
            from pyhanko.sign.timestamps import HTTPTimeStamper

            self._timestamper = HTTPTimeStamper(tsa_url, timeout=timeout)
        chain_bytes = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in (key.cert, *key.chain))
        self._reserve = 2 * chain_bytes + _BASE_RESERVE + (_TIMESTAMP_RESERVE if tsa_url else 0)

    @property
    def level(self) -> str:
        """PAdES baseline level the signatures reach."""
        if self._archive_roots is not None:
            return "PAdES B-LTA"
        return "PAdES B-T" if self._timestamper else "PAdES B-B"

    def sign(self, pdf: bytes, box: SignatureBox | None = None, reason: str | None = None,
             location: str | None = None) -> bytes:
        """The signed PDF: ``pdf`` plus one incremental update holding the signature over the whole file."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        spec = None
        if box is not None:
            spec = fields.SigFieldSpec(FIELD_NAME, on_page=box.page, box=tuple(round(v, 2) for v in box.rect))
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location,
            name=self.key.holder,
            embed_validation_info=self._archive_roots is not None,
            use_pades_lta=self._archive_roots is not None,
            validation_context=_context(self._archive_roots) if self._archive_roots is not None else None,
        )
        pdf_signer = signers.PdfSigner(meta, signer=self._signer, timestamper=self._timestamper,
                                       stamp_style=NoOpStampStyle(), new_field_spec=spec)
        out = io.BytesIO()
        try:
            pdf_signer.sign_pdf(writer, output=out, bytes_reserved=self._reserve)
        except SigningError as e:
            if "too small" not in str(e).lower() and "reserve" not in str(e).lower():
                raise
            # a timestamp token larger than expected: let pyHanko size the placeholder (one dry run)
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            out = io.BytesIO()
            pdf_signer.sign_pdf(writer, output=out)
        return out.getvalue()


def _context(roots: list):  # noqa: ANN202 - pyhanko_certvalidator.ValidationContext
    """Validation at signing: the chain and any revocation data its certificates point to are embedded."""
    from pyhanko_certvalidator import ValidationContext

    trust = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots]
    return ValidationContext(trust_roots=trust, allow_fetching=True, revocation_mode="soft-fail")


def add_document_timestamp(pdf: bytes, tsa_url: str, roots: list, timeout: float = 10) -> bytes:
    """``pdf`` with one more document timestamp (and the validation data of the previous one).

    The last document timestamp must still validate against ``roots``: renew before it expires.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.timestamps import HTTPTimeStamper

    out = io.BytesIO()
    signers.PdfTimeStamper(HTTPTimeStamper(tsa_url, timeout=timeout)).update_archival_timestamp_chain(
        PdfFileReader(io.BytesIO(pdf), strict=False), _context(roots), in_place=False, output=out)
    return out.getvalue()


def sign_detached(data: bytes, key: SigningKey) -> bytes:
    """A detached CMS signature (DER) of ``data`` with the signer's chain, e.g. for registry exports."""
    import asyncio

    signer = _KeptKeySigner(key)
    info = asyncio.run(signer.async_sign_general_data(data, "sha256", detached=True))
    return info.dump()


def verify_detached(data: bytes, signature: bytes, roots: list) -> tuple[str, str]:
    """(signer's name, SHA-256 of the signer's public key) when ``signature`` is a valid detached CMS
    signature of ``data`` by a trusted key. Raises ``ValueError`` with the reason otherwise.
    """
    import asyncio

    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        signed_data.native  # noqa: B018 - force a full parse so garbage fails here
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"not a CMS signature ({e})") from None
    trust = [asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots]
    context = ValidationContext(trust_roots=trust, allow_fetching=False, revocation_mode="soft-fail")
    status = asyncio.run(async_validate_detached_cms(data, signed_data, signer_validation_context=context))
    if not (status.intact and status.valid):
        raise ValueError("the signature does not match the data (the export was changed)")
    if not status.trusted:
        raise ValueError(f"signed by {_name(status.signing_cert)}, which does not chain to a trusted root")
    from cryptography import x509

    from footprint.certificates.keys import key_id

    return _name(status.signing_cert), key_id(x509.load_der_x509_certificate(status.signing_cert.dump()))


def _name(cert) -> str:  # noqa: ANN001 - asn1crypto certificate
    from cryptography import x509

    from footprint.certificates.keys import subject_name

    return subject_name(x509.load_der_x509_certificate(cert.dump()))
