"""certificates/qr.py makes segno's code and draws segno's modules: the printed code is segno's own.

The mask is chosen on arrays (all eight masks scored at once), the final message is packed and placed
with numpy and a remembered order, and the path comes from the matrix's runs (issue 17); the references
here are segno's own ``find_and_apply_best_mask``, ``mask_scores``, ``make_final_message`` and
``add_codewords``, and the path as documents drew it before, one module at a time from ``matrix_iter``.
"""

from __future__ import annotations

import random

import numpy as np
import segno
from segno import encoder

from footprint.certificates import qr
from footprint.certificates.document import qr_path


def _segno_make(payload: str):  # noqa: ANN202 - segno.QRCode
    """segno's code made by segno's own functions (qr.make replaces three of them process-wide)."""
    qr.make("warm")  # the replacements are installed, and segno's functions kept
    ours = {name: getattr(encoder, name) for name in qr._SEGNO}
    for name, theirs in qr._SEGNO.items():
        setattr(encoder, name, theirs)
    try:
        return segno.make(payload, error="m", micro=False)
    finally:
        for name, fast in ours.items():
            setattr(encoder, name, fast)


def _path_by_modules(code, border: int = 4) -> tuple[str, int]:  # noqa: ANN001
    """The path as certificates/document.py drew it before: one module at a time from segno's matrix_iter."""
    rows = list(code.matrix_iter(scale=1, border=border))
    d = []
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                d.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(d), len(rows)


def _payloads() -> list[str]:
    rng = random.Random(17)
    hexes = ["".join(rng.choice("0123456789abcdef") for _ in range(64)) for _ in range(80)]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:abcxyz证书铝"
    return ([f"urn:footprint:certificate:DEMO-PCF-DEMO-PARK-2026-{n:05d}-{n % 36:X}:sha256:{h}"
             for n, h in enumerate(hexes[:40])]
            + [f"https://verify.example.org/c/FP-CERT-BENCH-2026-{n:05d}-Q#sha256={h}"
               for n, h in enumerate(hexes[40:])]
            + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 160))) for _ in range(100)]
            + [str(rng.randrange(10 ** rng.randint(1, 200))) for _ in range(30)] + ["x" * 600]
            + ["HELLO WORLD " * k for k in range(1, 12)])


def test_the_code_and_its_path_are_segnos():
    payloads = _payloads()
    for payload in payloads:
        ours, theirs = qr.make(payload), _segno_make(payload)
        assert (ours.version, ours.mask, ours.matrix) == (theirs.version, theirs.mask, theirs.matrix), payload
        assert qr_path(payload) == _path_by_modules(theirs), payload
        assert qr.path(ours, border=0) == _path_by_modules(theirs, border=0), payload
    assert all(f.__module__ == "segno.encoder" for f in qr._SEGNO.values())  # segno's own kept, not ours
    qr._install()  # a second install changes nothing
    assert all(f.__module__ == "segno.encoder" for f in qr._SEGNO.values())
    assert all(getattr(encoder, name).__module__ == qr.__name__ for name in qr._SEGNO)
    versions = {qr.make(p).version for p in payloads}
    assert len(payloads) > 200 and min(versions) == 1 and max(versions) >= 19


def _matrices() -> list[np.ndarray]:
    """Random matrices, and matrices made of 1011101 patterns overlapping each other (at 4 and at 6 modules)
    with light and dark margins, so that segno's skipping after a counted pattern decides the N3 score."""
    rng = np.random.default_rng(17)
    found = [rng.integers(0, 2, (n, n), dtype=np.uint8) for n in (21, 25, 29, 41, 57, 97) for _ in range(4)]
    for tile in ("10111011101", "1011101011101", "0000101110100001011101", "1011101000010111011101",
                 "11011101110111", "000010111010111010000"):
        line = np.array([int(b) for b in tile], dtype=np.uint8)
        for n in (21, 33):
            rows = np.resize(line, (n, n))
            for shift in range(3):
                m = np.roll(rows, shift, axis=1)
                m[rng.integers(0, n, 4)] ^= 1  # a few rows disturbed
                found += [m, m.T.copy()]
    return found


def test_the_scores_are_segnos_for_every_kind_of_matrix():
    matrices = _matrices()
    for m in matrices:
        n = m.shape[0]
        theirs = sum(encoder.mask_scores([bytearray(row.tobytes()) for row in m], n, n))
        assert qr._scores(m[None]) == [theirs]
    assert qr._scores(np.stack(matrices[:4])) == [qr._scores(m[None])[0] for m in matrices[:4]]  # masks apart


def test_the_final_message_and_its_placement_are_segnos_in_every_version():
    """Every version and error level, on data of its full capacity (the payload tests reach version 19)."""
    from segno import consts

    qr.make("warm")
    rng = random.Random(17)
    for version in range(1, 41):
        size = encoder.calc_matrix_size(version)
        for error in (consts.ERROR_LEVEL_L, consts.ERROR_LEVEL_M, consts.ERROR_LEVEL_Q, consts.ERROR_LEVEL_H):
            capacity = consts.SYMBOL_CAPACITY[version][error]
            data = encoder.Buffer(rng.getrandbits(1) for _ in range(capacity - rng.randrange(8)))
            ours, theirs = qr._final_message(version, error, data), qr._SEGNO["make_final_message"](version, error,
                                                                                                     data)
            assert ours.getbits() == theirs.getbits(), (version, error)
        placed = []
        for place in (qr._add_codewords, qr._SEGNO["add_codewords"]):
            matrix = encoder.make_matrix(size, size)
            encoder.add_finder_patterns(matrix, size, size)
            encoder.add_alignment_patterns(matrix, size, size)
            place(matrix, ours, version)
            placed.append(matrix)
        assert placed[0] == placed[1], version
