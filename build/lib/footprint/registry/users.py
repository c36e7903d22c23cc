"""People who log in to the web app (``footprint users``): e-mail, role, enterprises, Argon2id password hash.

A password is stored only as an Argon2id hash (argon2-cffi, RFC 9106 low-memory parameters), like an
API client's secret. Adding and disabling a user are audit entries holding the row (never the hash),
and replay checks the ``users`` table and the user's enterprises, so an account added or given another
role in SQL shows in ``footprint audit verify``. A disabled user keeps the row (past decisions name it)
and loses every session at once.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from footprint.registry import audit
from footprint.registry.records import Registry, RegistryError, as_utc
from footprint.registry.schema import User as UserRow
from footprint.registry.schema import UserEnterprise, WebSession

ROLES = ("manufacturer", "reviewer", "issuer", "admin")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ENTERPRISE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 hashes any length; a bound keeps a hostile form field from costing more


@dataclass(frozen=True)
class User:
    """A web app user as pages see it (no hash)."""

    id: int
    email: str
    role: str
    enterprises: tuple[str, ...]
    active: bool

    def sees_enterprise(self, enterprise_ids: object) -> bool:
        """Whether any of ``enterprise_ids`` is one of this user's (manufacturers see only their own)."""
        return bool(set(self.enterprises) & set(enterprise_ids))  # type: ignore[call-overload]


def _hasher():  # noqa: ANN202 - argon2.PasswordHasher
    from argon2 import PasswordHasher
    from argon2.profiles import RFC_9106_LOW_MEMORY

    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


def _stamp(t: dt.datetime | None) -> str | None:
    return audit.timestamp(as_utc(t)) if t else None


def normal_email(email: str) -> str:
    return email.strip().lower()


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    return None


def _row(u: UserRow, enterprises: list[str]) -> dict:
    """What the audit log holds of a user (everything but the password hash)."""
    return {"email": u.email, "role": u.role, "active": bool(u.active), "created_at": _stamp(u.created_at),
            "disabled_at": _stamp(u.disabled_at), "enterprises": sorted(enterprises)}


def _enterprises(session: Session, user_id: int) -> list[str]:
    return sorted(session.execute(select(UserEnterprise.enterprise_id)
                                  .where(UserEnterprise.user_id == user_id)).scalars())


def _user(session: Session, u: UserRow) -> User:
    return User(u.id, u.email, u.role, tuple(_enterprises(session, u.id)), bool(u.active))


def add(registry: Registry, email: str, role: str, password: str, enterprises: list[str] | None = None) -> User:
    """A new active user. Manufacturers need at least one enterprise id; the other roles have none."""
    email, enterprises = normal_email(email), sorted(set(enterprises or []))
    if not EMAIL.match(email) or len(email) > 254:
        raise RegistryError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise RegistryError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if role == "manufacturer" and not enterprises:
        raise RegistryError("a manufacturer needs at least one enterprise id (the enterprise_id of its "
                            "facilities.csv rows; footprint users add --enterprise ID)")
    if role != "manufacturer" and enterprises:
        raise RegistryError(f"a {role} sees every enterprise's requests; --enterprise is for manufacturers")
    for e in enterprises:
        if not ENTERPRISE.match(e):
            raise RegistryError(f"enterprise id {e!r}: letters, digits, '.', '_' and '-' (at most 64)")
    problem = password_problem(password)
    if problem:
        raise RegistryError(problem)
    hashed = _hasher().hash(password)
    with registry.write() as s:
        if s.execute(select(UserRow.id).where(UserRow.email == email)).first():
            raise RegistryError(f"user {email} already exists")
        row = UserRow(email=email, role=role, password_hash=hashed, active=True,
                      created_at=dt.datetime.now(dt.UTC), disabled_at=None)
        s.add(row)
        s.flush()
        s.add_all(UserEnterprise(user_id=row.id, enterprise_id=e) for e in enterprises)
        s.flush()
        audit.append(s, "user-add", email, {"row": _row(row, enterprises)})
        return User(row.id, email, role, tuple(enterprises), True)


def disable(registry: Registry, email: str) -> User:
    """The user can no longer log in; their sessions end now."""
    email = normal_email(email)
    with registry.write() as s:
        row = s.execute(select(UserRow).where(UserRow.email == email)).scalar_one_or_none()
        if row is None or not row.active:
            raise RegistryError(f"no active user {email}")
        row.active, row.disabled_at = False, dt.datetime.now(dt.UTC)
        s.execute(delete(WebSession).where(WebSession.user_id == row.id))
        s.flush()
        audit.append(s, "user-disable", email, {"set": {"active": False, "disabled_at": _stamp(row.disabled_at)}})
        return _user(s, row)


def listing(registry: Registry) -> list[User]:
    with registry.read() as s:
        return [_user(s, u) for u in s.execute(select(UserRow).order_by(UserRow.email)).scalars()]


def get(session: Session, user_id: int) -> User | None:
    row = session.get(UserRow, user_id)
    return _user(session, row) if row is not None else None


def by_email(session: Session, email: str) -> User | None:
    row = session.execute(select(UserRow).where(UserRow.email == normal_email(email))).scalar_one_or_none()
    return _user(session, row) if row is not None else None


def authenticate(registry: Registry, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None. Unknown e-mails cost a hash too."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_PASSWORD:
        return None
    with registry.read() as s:
        row = s.execute(select(UserRow).where(UserRow.email == normal_email(email))).scalar_one_or_none()
        stored = row.password_hash if row is not None and row.active else None
        user = _user(s, row) if stored else None
    hasher = _hasher()
    try:
        hasher.verify(stored or _dummy(hasher), password)
    except (VerificationError, InvalidHashError):
        return None
    return user


_DUMMY: list[str] = []


def _dummy(hasher) -> str:  # noqa: ANN001
    """A hash of a random password, made once, to verify against for unknown e-mails (no timing oracle)."""
    if not _DUMMY:
        _DUMMY.append(hasher.hash(secrets.token_urlsafe(32)))
    return _DUMMY[0]


@audit.replays("user-add")
def _replay_add(state: audit.State, entry: audit.Entry) -> None:
    audit.row_created("users", state, entry)


@audit.replays("user-disable")
def _replay_disable(state: audit.State, entry: audit.Entry) -> None:
    audit.row_changed("users", state, entry)


@audit.reads("users")
def _rows(session: Session) -> dict[str, dict]:
    return {u.email: _row(u, _enterprises(session, u.id)) for u in session.execute(select(UserRow)).scalars()}
