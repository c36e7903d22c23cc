"""API clients of the PACT host API: OAuth2 client credentials and the access tokens issued to them.

A client secret is shown once, when the client is added, and stored only as an Argon2id hash
(argon2-cffi, RFC 9106 low-memory parameters), so a copy of the database gives no usable secret.
Access tokens are random 256-bit strings kept as their SHA-256 (a fast hash is enough for a
random value of that length, and a request must not cost an Argon2 computation). Tokens live in
the database, so every server process behind a proxy accepts every token. Adding and revoking a
client are audit-log entries; revoking one ends its tokens at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from footprint.registry import audit
from footprint.registry.records import Registry, RegistryError
from footprint.registry.schema import AccessToken, ApiClient

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,127}$")
SECRET = re.compile(r"^[!-$&-*,-~]+$")  # printable ASCII without space, % and + (form-decoding leaves it alone)
MIN_SECRET = 24  # characters: a chosen secret must not be weaker than a short password
TOKEN_SECONDS = 3600


class TokenInvalid(Exception):
    """Not a token this host issued (or its client was deleted)."""


class TokenExpired(Exception):
    """A token this host issued, past its lifetime."""


class ClientRevoked(Exception):
    """A token of a client whose access was revoked."""


@dataclass(frozen=True)
class Client:
    client_id: str
    created_at: str
    revoked_at: str | None


def _hasher():  # noqa: ANN202 - argon2.PasswordHasher
    from argon2 import PasswordHasher
    from argon2.profiles import RFC_9106_LOW_MEMORY

    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _iso(t: dt.datetime | None) -> str | None:
    return _utc(t).isoformat(timespec="seconds") if t else None


def add(registry: Registry, client_id: str, secret: str | None = None) -> str:
    """Register a client; returns its secret (generated unless given), which is never stored in clear."""
    if not CLIENT_ID.match(client_id):
        raise RegistryError(f"client id {client_id!r}: 3–128 letters, digits and . _ @ -, starting with a letter "
                            "or digit")
    if secret is not None and (len(secret) < MIN_SECRET or not SECRET.match(secret)):
        raise RegistryError(f"a client secret needs at least {MIN_SECRET} printable ASCII characters other than "
                            "'%', '+' and spaces (or let footprint generate one)")
    secret = secret or secrets.token_urlsafe(32)
    hashed = _hasher().hash(secret)
    with registry.write() as s:
        if s.execute(select(ApiClient.id).where(ApiClient.client_id == client_id)).first():
            raise RegistryError(f"API client {client_id} already exists (revoked clients keep their id)")
        at = _now()
        s.add(ApiClient(client_id=client_id, secret_hash=hashed, created_at=at))
        s.flush()
        audit.append(s, "api-client-add", client_id, {}, at)
    return secret


def revoke(registry: Registry, client_id: str) -> None:
    """End a client's access: its credentials and every token it holds are refused from now on."""
    with registry.write() as s:
        row = s.execute(select(ApiClient).where(ApiClient.client_id == client_id)).scalar_one_or_none()
        if row is None:
            raise RegistryError(f"no API client {client_id}")
        if row.revoked_at is not None:
            raise RegistryError(f"API client {client_id} was already revoked on {_iso(row.revoked_at)}")
        at = _now()
        row.revoked_at = at
        audit.append(s, "api-client-revoke", client_id, {}, at)


def clients(registry: Registry) -> list[Client]:
    with registry.read() as s:
        return [Client(c.client_id, _iso(c.created_at), _iso(c.revoked_at))  # type: ignore[arg-type]
                for c in s.execute(select(ApiClient).order_by(ApiClient.id)).scalars()]


def authenticate(registry: Registry, client_id: str, secret: str) -> bool:
    """True for an active client with this secret. Unknown ids cost a hash too (no timing oracle)."""
    from argon2.exceptions import VerificationError

    with registry.read() as s:
        row = s.execute(select(ApiClient).where(ApiClient.client_id == client_id)).scalar_one_or_none()
        stored = row.secret_hash if row is not None and row.revoked_at is None else None
    hasher = _hasher()
    try:
        return hasher.verify(stored or _DUMMY.get(hasher), secret) and stored is not None
    except VerificationError:
        return False


class _Dummy:
    """A hash of a random secret, made once, to verify against for unknown client ids."""

    value: str | None = None

    def get(self, hasher) -> str:  # noqa: ANN001
        if self.value is None:
            self.value = hasher.hash(secrets.token_urlsafe(32))
        return self.value


_DUMMY = _Dummy()


def issue_token(registry: Registry, client_id: str, seconds: int = TOKEN_SECONDS) -> tuple[str, int]:
    """A new access token for an authenticated client: (token, lifetime in seconds)."""
    token = secrets.token_urlsafe(32)
    at = _now()
    with registry.write() as s:
        s.execute(delete(AccessToken).where(AccessToken.expires_at < at - dt.timedelta(days=1)))
        s.add(AccessToken(token_sha256=_digest(token), client_id=client_id, issued_at=at,
                          expires_at=at + dt.timedelta(seconds=seconds)))
    return token, seconds


def check_token(registry: Registry, token: str, now: dt.datetime | None = None) -> str:
    """The client id a bearer token belongs to; raises TokenInvalid, TokenExpired or ClientRevoked."""
    with registry.read() as s:
        row = s.execute(select(AccessToken.expires_at, ApiClient.revoked_at, ApiClient.client_id)
                        .join(ApiClient, ApiClient.client_id == AccessToken.client_id)
                        .where(AccessToken.token_sha256 == _digest(token))).first()
    if row is None:
        raise TokenInvalid()
    expires_at, revoked_at, client_id = row
    if revoked_at is not None:
        raise ClientRevoked()
    if _utc(expires_at) <= (now or _now()):
        raise TokenExpired()
    return client_id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
