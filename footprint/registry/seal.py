"""The registry's seal: the Ed25519 key that signs every audit entry, and the witness of the log's head.

A key of its own, not the certification body's document key: state changes happen where that key
is not at hand (a reviewer's decision, a void after a crash, a server event), and a passphrase
prompt at every revocation would be worse than a key file only the registry's operator can read.
Whoever has SQL access to the database but not this file cannot add, edit or re-chain an entry.

A signed chain cut short is still a valid signed chain, so after every write the registry notes
the newest entry (sequence and hash) in a witness file of the data directory, one per database;
``footprint audit verify`` requires the log to still hold the witnessed entry. Someone who can
also rewrite the data directory is stopped only by what left it: signed exports name their
last audit entry, and ``audit verify --export`` checks that entry too.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from footprint.files import write_new

KEY_ENV = "FOOTPRINT_REGISTRY_KEY"
KEY_FILE = "registry-audit.pem"
WITNESS_DIR = "audit-witness"


class SealError(Exception):
    """The registry's audit key is missing or unreadable."""


@dataclass(frozen=True)
class Seal:
    """The registry key: signs entry hashes (writers) and checks them (``audit verify``)."""

    public_key: Ed25519PublicKey
    private_key: Ed25519PrivateKey | None
    path: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key: how exports and reports name this key."""
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def sign(self, entry_hash: str) -> str:
        if self.private_key is None:
            raise SealError(f"{self.path}: only the public half of the registry key is present; cannot sign")
        return base64.b64encode(self.private_key.sign(bytes.fromhex(entry_hash))).decode()

    def check(self, entry_hash: str, signature: str | None) -> bool:
        """Whether ``signature`` is this key's signature of ``entry_hash``.

        Ed25519 signs deterministically (RFC 8032: the nonce is a hash of the key and the message), so a
        signature equal to the one the private key makes of the hash now is that key's signature; making it
        costs a third of verifying one (~50 µs against ~155 here, two per certificate verified). They are
        compared in constant time (the key's signature of a hash given by whoever wrote the row is never
        to leak). Any other signature is verified with the public key, as one from another signer would be.
        """
        if not signature:
            return False
        try:
            raw, digest = base64.b64decode(signature, validate=True), bytes.fromhex(entry_hash)
            if self.private_key is not None and hmac.compare_digest(self.private_key.sign(digest), raw):
                return True
            self.public_key.verify(raw, digest)
        except (InvalidSignature, ValueError):
            return False
        return True


def key_path(home: Path) -> Path:
    """``$FOOTPRINT_REGISTRY_KEY``, else ``<home>/keys/registry-audit.pem``."""
    return _key_path(str(home), os.environ.get(KEY_ENV))


@functools.lru_cache(maxsize=16)
def _key_path(home: str, env: str | None) -> Path:
    """One path object per data directory and setting (a verify asks for it once per certificate)."""
    return Path(env).expanduser() if env else Path(home) / "keys" / KEY_FILE


def load(home: Path, create: bool = False) -> Seal | None:
    """The registry key of a data directory; made on demand when ``create`` (0600, never overwritten)."""
    path = key_path(home)
    if not path.exists():
        if not create:
            return None
        _create(path)
    return _read(path)


def load_for_checking(home: Path) -> Seal | None:
    """:func:`load` without ``create``, read again only when the key file changed (a registry that only
    reads checks every lookup's entries against it)."""
    path = key_path(home)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return _read_unchanged(path, st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_unchanged(path: Path, _ino: int, _size: int, _mtime_ns: int) -> Seal:
    return _read(path)


def _read(path: Path) -> Seal:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as e:
        raise SealError(f"cannot read the registry's audit key {path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealError(f"{path}: the registry's audit key must be an Ed25519 private key")
    return Seal(key.public_key(), key, path)


def _create(path: Path) -> None:
    """Write a new key under a temporary name and link it into place: two racing creators keep one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    write_new(tmp, pem, 0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


# ---- the witness of the newest entry -------------------------------------------------------


def witness_path(home: Path, url: str) -> Path:
    """One witness per database, named by a hash of its URL (no password in the name or file)."""
    return Path(home) / WITNESS_DIR / f"{hashlib.sha256(url.encode()).hexdigest()[:24]}.json"


def witnessed(path: Path) -> tuple[int, str] | None:
    """(sequence, hash) of the newest entry this data directory saw written, if any (read at every call: a
    lookup must see a witness written a moment ago)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["hash"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SealError(f"{path}: unreadable audit witness ({e}); the audit log cannot be checked for "
                        "truncation") from None


def witness(path: Path, seq: int, entry_hash: str) -> None:
    """Note a newer head; never moves back (concurrent writers serialise on a lock file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = witnessed(path)
        if current is not None and current[0] >= seq:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        tmp.write_text(json.dumps({"seq": seq, "hash": entry_hash}), encoding="utf-8")
        os.replace(tmp, path)
