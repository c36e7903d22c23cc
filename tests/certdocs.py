"""A minimal certificate document for the signing and registry tests.

It has what the signing layer relies on in a real certificate (PDF/A-3b from WeasyPrint, one
embedded JSON file, a QR code with the number and the data's SHA-256, a visible signature box,
DEMO text) without depending on the documents layer's templates, so these tests pin the signing
contract on their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

from footprint.certificates.issuing import Document
from footprint.certificates.signing import SignatureBox
from footprint.documents import _signature_box
from footprint.registry.records import Reservation

PX = 0.75  # CSS px → PDF points


def qr_svg(payload: str) -> str:
    import segno

    buf = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buf, kind="svg", scale=4, border=4, xmldecl=False)
    return buf.getvalue().decode()


def _drop_producer(document, pdf) -> None:  # noqa: ANN001
    """Signing keeps Info and XMP equal only if Info has no Producer (see the issue's facts)."""
    pdf.info.pop("Producer", None)


def render(number: str, product_id: str = "al-profile", total: float = 12.345, demo: bool = True,
           signer: str = "Demo Certification Body") -> tuple[bytes, bytes, SignatureBox]:
    """(pdf, embedded data, signature box) of a one-page certificate."""
    from weasyprint import HTML, Attachment

    data = json.dumps({"certificate": number, "product_id": product_id, "total": total,
                       "unit": "kg"}, sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()
    svg = qr_svg(f"urn:footprint:certificate:{number}:sha256:{digest}")
    demo_html = '<p class="demo">DEMO — NOT A VALID CERTIFICATION</p>' if demo else ""
    html = f"""<html><head><style>
      @page {{ size: A4; margin: 20mm }}
      body {{ font-family: sans-serif }}
      .demo {{ color: #b00; font-weight: bold }}
      #qr svg {{ width: 35mm; height: 35mm }}
      #signature {{ position: absolute; left: 100mm; top: 210mm; width: 65mm; height: 25mm;
                    border: 1px solid #333; font-size: 9pt; padding: 2mm; box-sizing: border-box }}
    </style></head><body>
      <h1>Product carbon footprint certificate</h1>{demo_html}
      <p>Number {number}</p><p>Product {product_id}: {total} kg CO2e per kg</p>
      <div id="qr">{svg}</div>
      <div id="signature">Digitally signed by {signer}</div>
    </body></html>"""
    document = HTML(string=html).render()
    box = SignatureBox(*_signature_box(document))
    pdf = document.write_pdf(pdf_variant="pdf/a-3b", finisher=_drop_producer,
                             attachments=[Attachment(file_obj=io.BytesIO(data), name="product-footprint.json",
                                                     relationship="Data")])
    return pdf, data, box


def document(reservation: Reservation, product_id: str = "al-profile", total: float = 12.345,
             demo: bool = True, valid_days: int = 365, valid_from: dt.date | None = None) -> Document:
    """A render callback result for :func:`footprint.certificates.issuing.issue`."""
    from footprint.certificates.issuing import validity

    pdf, data, box = render(reservation.number, product_id, total, demo)
    start = valid_from or dt.date.today()
    vf, vu = validity(start, start + dt.timedelta(days=valid_days))
    return Document(pdf=pdf, data_sha256=hashlib.sha256(data).hexdigest(), box=box, facts={
        "product_id": product_id, "product_name": "Aluminium profile 6063", "holder": "Demo Aluminium Co.",
        "unit": "kg", "total": total, "fossil": total, "biogenic": 0.0, "luc": 0.0, "primary_data_share": 0.5,
        "period_start": "2025-01-01", "period_end": "2025-12-31", "valid_from": vf, "valid_until": vu})
