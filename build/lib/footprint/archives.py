"""Zip archives from others, read without trusting a name, type or size in them.

A calculation bundle comes from the manufacturer whose numbers it certifies, a ``park.xlsx`` from
whoever filled it in, an upload from anyone. :func:`read` checks the whole central directory
first — entry names, entry types, duplicates, the caller's layout, declared sizes and
compression ratios — and only then reads each entry, holding it to its declared size.
:func:`extract` writes checked files into a fresh directory the caller made, never elsewhere.
"""

from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from footprint.text import describe, unsafe_character

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What an archive may cost: its own size, its entry count, and its uncompressed sizes."""

    archive_bytes: int = 256 * MiB
    entries: int = 1_000
    entry_bytes: int = 256 * MiB
    total_bytes: int = 256 * MiB
    ratio: int = 200  # uncompressed ÷ compressed, checked for entries over RATIO_FLOOR
    name_chars: int = 255


LIMITS = Limits()
RATIO_FLOOR = 1 * MiB  # small entries may compress well; the total cap bounds them
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ArchiveError(ValueError):
    """An archive refused before anything of it was written; names the archive and the entry."""

    def __init__(self, archive: str | Path, entry: str | None, reason: str):
        self.archive, self.entry, self.reason = str(archive), entry, reason
        where = f"{archive}: entry {entry!r}" if entry is not None else str(archive)
        super().__init__(f"{where}: {reason}")


def name_problem(name: str, limit: int = LIMITS.name_chars) -> str | None:
    """Why an entry name cannot be a relative path inside the extraction folder (None if it can)."""
    if len(name) > limit:
        return f"the name is {len(name)} characters long; at most {limit} are accepted"
    if name.startswith("/") or "\\" in name or ":" in name:
        return "absolute paths, drive letters and backslashes are refused"
    bad = unsafe_character(name)
    if bad is not None:
        return f"the name contains the control or invisible character {describe(bad)}"
    parts = name.removesuffix("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "empty, '.' and '..' path components are refused"
    return None


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    """Only regular files (and harmless folder entries) may be in an archive."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.create_system == 3 and kind:  # Unix: the file type is in the high bits (0: not given)
        if kind == stat.S_IFLNK:
            return "symbolic links are refused"
        if kind not in (stat.S_IFREG, stat.S_IFDIR):
            return "special files (devices, pipes, sockets) are refused"
        if (kind == stat.S_IFDIR) != info.is_dir():
            return "the entry's type and name disagree (folder vs file)"
    if info.flag_bits & 0x1:
        return "encrypted entries are refused"
    if info.compress_type not in METHODS:
        return f"compression method {info.compress_type} is refused; expected stored or deflated"
    if info.is_dir() and info.file_size:
        return "a folder entry with contents"
    return None


def _check_directory(path: Path, infos: list[zipfile.ZipInfo], allowed: Callable[[str], bool] | None,
                     kind: str, limits: Limits) -> None:
    if len(infos) > limits.entries:
        raise ArchiveError(path, None, f"{len(infos)} entries; a {kind} may have at most {limits.entries}")
    seen: dict[str, str] = {}
    total = 0
    for info in infos:
        name = info.filename
        problem = name_problem(name, limits.name_chars) or _kind_problem(info)
        if problem:
            raise ArchiveError(path, name, problem)
        folded = unicodedata.normalize("NFC", name).casefold()
        if folded in seen:
            raise ArchiveError(path, name, f"appears twice (also as {seen[folded]!r})")
        seen[folded] = name
        if info.is_dir():
            continue
        if allowed is not None and not allowed(name):
            raise ArchiveError(path, name, f"is not a file a {kind} may carry")
        if info.file_size > limits.entry_bytes:
            raise ArchiveError(path, name, f"{info.file_size:,} bytes uncompressed; at most "
                                           f"{limits.entry_bytes:,} are accepted per file")
        if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise ArchiveError(path, name, f"compressed {info.file_size / max(info.compress_size, 1):,.0f} : 1; "
                                           f"at most {limits.ratio} : 1 is accepted (a zip bomb?)")
        total += info.file_size
        if total > limits.total_bytes:
            raise ArchiveError(path, None, f"more than {limits.total_bytes:,} bytes uncompressed in all; "
                                           "that is the limit")


def read(path: str | Path, allowed: Callable[[str], bool] | None = None, kind: str = "archive",
         limits: Limits = LIMITS) -> dict[str, bytes]:
    """Every file of a zip archive by name, after the checks above; folder entries are dropped.

    ``allowed`` says which names the archive's layout has room for; ``kind`` names the archive in
    messages ("calculation bundle"). Raises :class:`ArchiveError` naming the archive and entry.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ArchiveError(path, None, f"cannot be read ({e.strerror})") from None
    if size > limits.archive_bytes:
        raise ArchiveError(path, None, f"{size:,} bytes; a {kind} may have at most {limits.archive_bytes:,}")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_directory(path, infos, allowed, kind, limits)
            files = {}
            for info in infos:
                if info.is_dir():
                    continue
                with archive.open(info) as fh:
                    data = fh.read(info.file_size + 1)
                if len(data) != info.file_size:
                    raise ArchiveError(path, info.filename, "its size differs from its directory entry")
                files[info.filename] = data
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError) as e:
        raise ArchiveError(path, None, f"not a readable zip archive ({e})") from None
    return files


def extract(files: dict[str, bytes], folder: Path) -> list[Path]:
    """Write checked files (from :func:`read`) into ``folder``, an empty folder the caller made.

    Each name is checked again and each file created new (``O_EXCL | O_NOFOLLOW``), so nothing
    is written outside ``folder`` or through a link, whatever the caller passes.
    """
    root = folder.resolve()
    if any(root.iterdir()):
        raise ValueError(f"{folder} is not empty; archives are extracted into a fresh folder only")
    written = []
    for name, data in sorted(files.items()):
        problem = name_problem(name)
        if problem:
            raise ArchiveError(folder, name, problem)
        target = root.joinpath(*name.split("/"))
        if root not in target.parents:
            raise ArchiveError(folder, name, "would be written outside the extraction folder")
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if target.parent.resolve() != target.parent:
            raise ArchiveError(folder, name, "its folder is a link")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written.append(target)
    return written
