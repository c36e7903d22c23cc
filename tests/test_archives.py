"""Archives from others: every hostile entry is refused, naming it, before anything is written."""

from __future__ import annotations

import stat
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from footprint import archives
from footprint.archives import ArchiveError, Limits


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return path


def entry(name: str, kind: int = stat.S_IFREG, mode: int = 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (kind | mode) << 16
    return info


@pytest.mark.parametrize("name", [
    "../../x", "/abs/path", "park/../../x", "park\\..\\x", "C:/windows/x", "park/./x", "park//x", "..",
    "park/evil\x1b[2K.csv", "park/gpj.exe\u202e.csv", "park/\u200bpark.yaml", "a" * 300,
])
def test_unsafe_names_are_refused(tmp_path, name):
    path = make_zip(tmp_path / "a.zip", [("ok.txt", b"1"), (name, b"payload")])
    with pytest.raises(ArchiveError) as e:
        archives.read(path)
    assert e.value.entry == name and e.value.archive == str(path)
    assert repr(name) in str(e.value)  # the message shows the entry escaped, never raw
    assert "\x1b" not in str(e.value) and "\u202e" not in str(e.value)


@pytest.mark.parametrize("kind, expected", [
    (stat.S_IFLNK, "symbolic links are refused"),
    (stat.S_IFIFO, "special files"),
    (stat.S_IFCHR, "special files"),
    (stat.S_IFSOCK, "special files"),
])
def test_links_and_special_entries_are_refused(tmp_path, kind, expected):
    path = make_zip(tmp_path / "a.zip", [(entry("park/inputs.csv", kind), b"/etc/passwd")])
    with pytest.raises(ArchiveError, match=expected):
        archives.read(path)


def test_duplicate_names_are_refused(tmp_path):
    path = tmp_path / "a.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        make_zip(path, [("park/inputs.csv", b"a"), ("park/inputs.csv", b"b")])
    with pytest.raises(ArchiveError, match="appears twice"):
        archives.read(path)
    # names that one file system would merge are duplicates too
    folded = make_zip(tmp_path / "b.zip", [("park/park.yaml", b"a"), ("park/PARK.yaml", b"b")])
    with pytest.raises(ArchiveError, match="appears twice .also as 'park/park.yaml'"):
        archives.read(folded)


def test_entries_outside_the_layout_are_refused(tmp_path):
    path = make_zip(tmp_path / "a.zip", [("park/park.yaml", b"a"), ("home/brightway/x.db", b"b")])
    with pytest.raises(ArchiveError, match="'home/brightway/x.db': is not a file a calculation bundle may carry"):
        archives.read(path, allowed=lambda n: n.startswith("park/"), kind="calculation bundle")


def test_sizes_and_ratios_beyond_the_limits_are_refused(tmp_path):
    zeros = make_zip(tmp_path / "z.zip", [("a", bytes(3 * archives.MiB))])
    with pytest.raises(ArchiveError, match="compressed [0-9,]+ : 1; at most 200 : 1"):
        archives.read(zeros)
    assert archives.read(zeros, limits=Limits(ratio=10_000))["a"] == bytes(3 * archives.MiB)
    with pytest.raises(ArchiveError, match="3,145,728 bytes uncompressed; at most 1,048,576"):
        archives.read(zeros, limits=Limits(ratio=10_000, entry_bytes=archives.MiB))
    many = make_zip(tmp_path / "m.zip", [(f"f{n}", b"x" * 600) for n in range(3)], zipfile.ZIP_STORED)
    with pytest.raises(ArchiveError, match="more than 1,000 bytes uncompressed in all"):
        archives.read(many, limits=Limits(total_bytes=1000))
    with pytest.raises(ArchiveError, match="3 entries; a archive may have at most 2"):
        archives.read(many, limits=Limits(entries=2))
    with pytest.raises(ArchiveError, match="bytes; a archive may have at most 100"):
        archives.read(many, limits=Limits(archive_bytes=100))


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    """300 MiB of zeros in a ~300 KB file: refused from its directory, in bounded memory."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z, z.open("park/inputs.csv", "w") as fh:
        chunk = bytes(archives.MiB)
        for _ in range(300):
            fh.write(chunk)
    assert path.stat().st_size < 2 * archives.MiB
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="314,572,800 bytes uncompressed; at most 268,435,456"):
            archives.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * archives.MiB


def test_encrypted_and_unusual_compression_are_refused(tmp_path):
    path = make_zip(tmp_path / "e.zip", [("a", b"x")], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag bit 0: encrypted
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="encrypted entries are refused"):
        archives.read(path)
    bz = make_zip(tmp_path / "b.zip", [("a", b"x")], zipfile.ZIP_BZIP2)
    with pytest.raises(ArchiveError, match="compression method 12 is refused"):
        archives.read(bz)


def test_not_a_zip_and_a_lying_size_are_refused(tmp_path):
    (tmp_path / "n.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ArchiveError, match="not a readable zip archive"):
        archives.read(tmp_path / "n.zip")
    path = make_zip(tmp_path / "l.zip", [("a", b"0123456789")], zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (4).to_bytes(4, "little")  # the directory says 4 bytes, not 10
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        archives.read(path)


def test_extract_writes_only_into_a_fresh_folder(tmp_path):
    files = archives.read(make_zip(tmp_path / "a.zip", [("park/", b""), ("park/park.yaml", b"id: x\n"),
                                                        ("results.json", b"{}")]))
    assert files == {"park/park.yaml": b"id: x\n", "results.json": b"{}"}
    out = tmp_path / "out"
    out.mkdir()
    written = archives.extract(files, out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == ["park/park.yaml", "results.json"]
    assert (out / "park" / "park.yaml").read_bytes() == b"id: x\n"
    with pytest.raises(ValueError, match="is not empty"):
        archives.extract(files, out)
    # names are checked again, whatever the caller passes
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with pytest.raises(ArchiveError, match="'..' path components are refused"):
        archives.extract({"../escaped": b"x"}, fresh)
    assert not (tmp_path / "escaped").exists() and not any(fresh.iterdir())
