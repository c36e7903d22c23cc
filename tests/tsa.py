"""A local RFC 3161 timestamp authority on 127.0.0.1 for B-T tests (pyHanko's DummyTimeStamper over HTTP)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from footprint.certificates import keys


class LocalTSA:
    """Started as a context manager; ``url`` is where it listens, ``root`` the CA to trust."""

    def __init__(self, days: int = 730):
        """``days``: lifetime of the TSA's certificate (its root lives 10 years)."""
        ca_key, tsa_key = keys.new_key("rsa"), keys.new_key("rsa")
        self.root = keys.make_ca("footprint test TSA", "test TSA root", ca_key)
        self.cert = keys.make_leaf("footprint test TSA", "test TSA", tsa_key, self.root, ca_key, days=days,
                                   purpose="timestamp")
        der_key = tsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        self.stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER)),
            tsa_key=asn1_keys.PrivateKeyInfo.load(der_key),
            certs_to_embed=[asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))])
        self.requests = 0
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                response = tsa.stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                tsa.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(response)))
                self.end_headers()
                self.wfile.write(response)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalTSA:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
