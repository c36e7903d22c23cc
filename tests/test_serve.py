"""`footprint serve` as a real process: HTTPS only with TLS, refusals, several workers, and a load test.

The registry is the five-certificate one of servicedata.py. The load test prints p50/p95 latency
and requests per second (for the closing note); it asserts only that every answer is right.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from servicedata import compute_parks, issue_all, postgres_url
from typer.testing import CliRunner

from footprint.cli.main import app
from footprint.engine import home


@pytest.fixture(scope="module")
def issued(tmp_path_factory, project):
    folder = tmp_path_factory.mktemp("serve")
    return issue_all(compute_parks(folder / "parks"), f"sqlite:///{folder / 'registry.sqlite'}", folder / "out")


def cli(url: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env={"FOOTPRINT_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for 127.0.0.1, its key) made for the test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "footprint test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class Server:
    """``footprint serve`` in a subprocess, stopped (by its own pid) when the test is done."""

    def __init__(self, url: str, *args: str, log: Path):
        self.port = free_port()
        env = {**os.environ, "FOOTPRINT_HOME": str(home.resolve()), "FOOTPRINT_DATABASE_URL": url}
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "footprint.cli.main", "serve", "--port", str(self.port),
                                      *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {log.read_text()[-2000:]}")
            if b"Application startup complete" in log.read_bytes():
                return
            time.sleep(0.2)
        raise AssertionError(f"serve did not start: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def token(client: httpx.Client, base: str, client_id: str, secret: str) -> str:
    r = client.post(f"{base}/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_serve_refuses_unsafe_or_impossible_setups(issued, tmp_path, monkeypatch):
    from footprint.certificates import keys

    for name in (keys.KEY_ENV, keys.CERT_ENV):  # serve exports --signing-key for its workers: undone after the test
        monkeypatch.setenv(name, "")
    ca, cert, key = tls_files(tmp_path)
    out = cli(issued.url, "serve", "--host", "0.0.0.0", code=2)
    assert "plain HTTP only on a loopback address" in out
    assert "go together" in cli(issued.url, "serve", "--tls-cert", str(cert), code=2)
    assert "several workers need PostgreSQL" in cli(issued.url, "serve", "--workers", "2", code=2)
    assert "cannot use --tls-cert" in cli(issued.url, "serve", "--tls-cert", str(ca), "--tls-key", str(ca), code=2)
    # the web pages' signing key is checked before the server starts: a PEM key without its chain, a wrong passphrase
    assert "unusable signing key" in cli(issued.url, "serve", "--signing-key", str(key), code=2)
    protected = tmp_path / "body.p12"
    demo = keys.default_key(home.resolve())
    protected.write_bytes(keys.pkcs12_bytes(demo.private_key, demo.cert, list(demo.chain), b"right horse"))
    out = CliRunner().invoke(app, ["serve", "--signing-key", str(protected), "--workers", "2"],
                             env={"FOOTPRINT_DATABASE_URL": issued.url, keys.PASSPHRASE_ENV: "wrong"})
    assert out.exit_code == 2 and "the passphrase is wrong" in out.output, out.output
    out = CliRunner().invoke(app, ["serve", "--signing-key", str(protected), "--workers", "2"],
                             env={"FOOTPRINT_DATABASE_URL": issued.url, keys.PASSPHRASE_ENV: "right horse"})
    assert out.exit_code == 2 and "several workers need PostgreSQL" in out.output, out.output  # the key was fine


def test_https_only_with_tls_serves_the_issued_footprints_to_a_new_client(issued, tmp_path):
    secret = re.search(r"client_secret: (\S+)", cli(issued.url, "api-clients", "add", "tls-buyer")).group(1)
    assert "tls-buyer" in cli(issued.url, "api-clients", "list")
    ca, cert, key = tls_files(tmp_path)
    server = Server(issued.url, "--host", "127.0.0.1", "--tls-cert", str(cert), "--tls-key", str(key),
                    log=tmp_path / "serve.log")
    try:
        base = f"https://127.0.0.1:{server.port}"
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as c:
            bearer = {"Authorization": f"Bearer {token(c, base, 'tls-buyer', secret)}"}
            r = c.get(f"{base}/3/footprints", headers=bearer)
            assert r.status_code == 200 and len(r.json()["data"]) == 5
            assert r.headers["strict-transport-security"].startswith("max-age=")
            assert c.get(f"{base}/verify/{issued.numbers['a-power']}.json").json()["status"] == "active"
            r = c.get(f"{base}/3/footprints?limit=2", headers=bearer)
            assert r.headers["link"].startswith(f"<{base}/3/footprints?limit=2&offset=2>")
        with httpx.Client(timeout=10) as plain:  # the same port speaks no plain HTTP
            with pytest.raises(httpx.TransportError):
                plain.get(f"http://127.0.0.1:{server.port}/verify/{issued.numbers['a-power']}.json")
            with pytest.raises(httpx.TransportError):
                plain.post(f"http://127.0.0.1:{server.port}/auth/token", data={"grant_type": "client_credentials"},
                           auth=("tls-buyer", secret))
        cli(issued.url, "api-clients", "revoke", "tls-buyer")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as c:
            assert c.get(f"{base}/3/footprints", headers=bearer).status_code == 403
    finally:
        server.stop()


def test_several_workers_share_the_postgresql_registry(issued, tmp_path):
    url = postgres_url() or pytest.skip("PostgreSQL tests need FOOTPRINT_TEST_POSTGRES_URL (set by .ci/run)")
    issued.copy_to(url)
    secret = re.search(r"client_secret: (\S+)", cli(url, "api-clients", "add", "pg-buyer")).group(1)
    server = Server(url, "--workers", "2", log=tmp_path / "serve.log")
    try:
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(timeout=30) as c:
            tokens = [token(c, base, "pg-buyer", secret) for _ in range(2)]
            for n in range(30):  # the workers share tokens and footprints through the database
                r = c.get(f"{base}/3/footprints", headers={"Authorization": f"Bearer {tokens[n % 2]}"})
                assert r.status_code == 200 and len(r.json()["data"]) == 5
        assert server.log.read_text().count("Started server process") == 2
    finally:
        server.stop()


def test_load_200_concurrent_list_requests(issued, tmp_path, capsys):
    """Bounded load on loopback: 200 ListFootprints requests at once; figures printed, not asserted."""
    secret = re.search(r"client_secret: (\S+)", cli(issued.url, "api-clients", "add", "load-buyer")).group(1)
    server = Server(issued.url, log=tmp_path / "serve.log")
    base = f"http://127.0.0.1:{server.port}"
    try:
        with httpx.Client(timeout=30) as c:
            bearer = {"Authorization": f"Bearer {token(c, base, 'load-buyer', secret)}"}
            expected = c.get(f"{base}/3/footprints", headers=bearer).content

        async def one(client: httpx.AsyncClient) -> tuple[float, int, bytes]:
            t = time.perf_counter()
            r = await client.get(f"{base}/3/footprints", headers=bearer)
            return time.perf_counter() - t, r.status_code, r.content

        async def burst(n: int) -> tuple[float, list]:
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            async with httpx.AsyncClient(timeout=120, limits=limits) as client:
                t = time.perf_counter()
                results = await asyncio.gather(*(one(client) for _ in range(n)))
                return time.perf_counter() - t, results

        wall, results = asyncio.run(burst(200))
    finally:
        server.stop()
    assert all(status == 200 and body == expected for _, status, body in results)
    latencies = sorted(t for t, _, _ in results)
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * len(latencies)) - 1]
    with capsys.disabled():
        print(f"\nload: 200 concurrent GET /3/footprints (5 footprints, {len(expected)} bytes each), 1 worker, "
              f"SQLite: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {len(results) / wall:.0f} req/s, "
              f"wall {wall:.2f} s")
