"""Reading a source given as a file, a folder or a zip, without trusting it.

Members are read into memory by name, never extracted, so no path in an archive can write
anywhere; sizes are bounded before anything is decompressed, and the source's SHA-256 (of the
file, or of every member's name and bytes for a folder) is its identity in calculation bundles.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

MAX_MEMBER = 2 * 1024**3  # bytes of one member once decompressed
MAX_TOTAL = 8 * 1024**3  # bytes of all members once decompressed
MAX_RATIO = 200  # decompressed / compressed, per member


class SourceError(ValueError):
    """A source that cannot be read; the message names the file and what was expected."""


def sha256(path: Path) -> str:
    """SHA-256 of a file; of a folder, over its files' relative paths and contents in sorted order."""
    digest = hashlib.sha256()
    if path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            digest.update(p.relative_to(path).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(p.read_bytes()).digest())
        return digest.hexdigest()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_members(path: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file ending in one of ``suffixes`` in a file, folder or zip, sorted by name."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file() and q.name.lower().endswith(suffixes)):
            if p.stat().st_size > MAX_MEMBER:
                raise SourceError(f"{p}: larger than {MAX_MEMBER} bytes")
            yield p.relative_to(path).as_posix(), p.read_bytes()
        return
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            infos = sorted((i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(suffixes)),
                           key=lambda i: i.filename)
            total = 0
            for i in infos:
                total += i.file_size
                if i.file_size > MAX_MEMBER or total > MAX_TOTAL:
                    raise SourceError(f"{path}: member {i.filename!r} would exceed the size limit "
                                      f"({MAX_MEMBER} bytes per member, {MAX_TOTAL} in all)")
                if i.compress_size and i.file_size / i.compress_size > MAX_RATIO:
                    raise SourceError(f"{path}: member {i.filename!r} has a compression ratio above {MAX_RATIO}")
            for i in infos:
                with archive.open(i) as member:
                    data = member.read(MAX_MEMBER + 1)
                if len(data) != i.file_size:
                    raise SourceError(f"{path}: member {i.filename!r} is not the size its header states")
                yield i.filename, data
        return
    if path.stat().st_size > MAX_MEMBER:
        raise SourceError(f"{path}: larger than {MAX_MEMBER} bytes")
    yield path.name, path.read_bytes()
