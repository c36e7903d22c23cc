"""segno's QR code mask choice, computed with numpy, and the code's dark runs as SVG path data.

segno applies each of the eight data masks and scores it (ISO/IEC 18004:2015 7.8.3) one module at a
time in Python: ~14 ms of a certificate's ~110. This module applies and scores all eight masks at once
on one array — N1, N2 and N4 as array sums, N3's candidates found on the array and then taken in
segno's own order (a counted pattern skips the overlapping one after it) — and picks the same mask by
the same rule (lowest score, first on ties), so the printed code is unchanged (``tests/test_qr_code.py``
compares the chosen mask and matrix with segno's for hundreds of payloads). Micro QR codes and a mask
given by the caller are left to segno.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from itertools import chain, zip_longest
from typing import Any

import numpy as np

_N3 = bytes((1, 0, 1, 1, 1, 0, 1))


def make(payload: str) -> Any:
    """``segno.make(payload, error="m", micro=False)`` with the mask, the final message and its placement
    computed here (installed in segno's encoder once; segno's own functions kept in ``_SEGNO``)."""
    import segno

    if not _SEGNO:
        _install()
    return segno.make(payload, error="m", micro=False)


_SEGNO: dict[str, Any] = {}
_INSTALLING = threading.Lock()


def _install() -> None:
    """Keep segno's three functions in ``_SEGNO``, then put ours in their place — once, under a lock, so
    that threads racing to the first code never keep one of ours as segno's (ours hand cases to them)."""
    from segno import encoder

    with _INSTALLING:
        if _SEGNO:
            return
        ours = {"find_and_apply_best_mask": _best_mask, "make_final_message": _final_message,
                "add_codewords": _add_codewords}
        _SEGNO.update({name: getattr(encoder, name) for name in ours})
        for name, function in ours.items():
            setattr(encoder, name, function)


def _final_message(version: int, error: int, buff: Any) -> Any:
    """segno's ``make_final_message``: the data and error correction codewords interleaved, as bits, and the
    remainder bits that fill the symbol — the codewords read and written with numpy, not a string or a
    generator per codeword; the error correction is segno's own ``make_blocks``."""
    from segno import consts, encoder

    if version < 1:
        return _SEGNO["make_final_message"](version, error, buff)
    data, ecc = encoder.make_blocks(consts.ECC[version][error], _Codewords(buff))
    message = bytes(x for blocks in (data, ecc) for x in chain.from_iterable(zip_longest(*blocks)) if x is not None)
    bits = np.unpackbits(np.frombuffer(message, dtype=np.uint8)).tobytes()
    remainder = len(_placement(version)) - len(bits)  # 0, 3, 4 or 7 (ISO/IEC 18004:2015 7.6)
    return encoder.Buffer(bits + bytes(remainder))


class _Codewords:
    """A segno ``Buffer``'s bits as ``make_blocks`` reads them (``toints``), packed by numpy."""

    def __init__(self, buff: Any):
        self.bits = bytes(buff.getbits())

    def toints(self) -> Iterator[int]:
        return iter(np.packbits(np.frombuffer(self.bits, dtype=np.uint8)).tolist())


def _add_codewords(matrix: Any, codewords: Any, version: int) -> None:
    """segno's ``add_codewords``, each bit put where segno's zigzag puts it (the order of a version's free
    modules, found once by segno's own function)."""
    order = _placement(version) if version >= 1 else ()
    bits = codewords.getbits()
    if version < 1 or len(bits) > len(order):
        return _SEGNO["add_codewords"](matrix, codewords, version)
    for (i, j), bit in zip(order, bits, strict=False):
        matrix[i][j] = bit
    return None


@functools.cache
def _placement(version: int) -> tuple[tuple[int, int], ...]:
    """Where segno's ``add_codewords`` puts the 1st, 2nd, … bit in a symbol of ``version``: it numbers the
    free modules of a blank symbol (as ``_encode`` hands it over: timing, finder and alignment patterns,
    format and version areas reserved)."""
    from segno import encoder

    size = encoder.calc_matrix_size(version)
    blank = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(blank, size, size)
    encoder.add_alignment_patterns(blank, size, size)
    cells = [list(row) for row in blank]
    free = sum(row.count(0x2) for row in cells)
    _SEGNO["add_codewords"](cells, [-1 - k for k in range(free)], version)  # bit k marked -1-k: never 0x2
    where = {-1 - v: (i, j) for i, row in enumerate(cells) for j, v in enumerate(row) if v < 0}
    return tuple(where[k] for k in range(free))


def _best_mask(matrix: Any, width: int, height: int, proposed_mask: int | None = None) -> tuple[int, Any]:
    if proposed_mask is not None or width != height or width < 21:
        return _SEGNO["find_and_apply_best_mask"](matrix, width, height, proposed_mask)
    region, patterns = _masks(width)
    masked = np.array(matrix, dtype=np.uint8) ^ (region & patterns)  # the eight masked matrices, (8, n, n)
    scores = _scores(masked)
    number = scores.index(min(scores))  # the first of the lowest, as segno
    return number, tuple(bytearray(row.tobytes()) for row in masked[number])


@functools.cache
def _masks(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where data modules are (not function patterns), and the eight mask patterns, as segno defines them."""
    from segno import encoder

    function = encoder.make_matrix(size, size)
    encoder.add_finder_patterns(function, size, size)
    encoder.add_alignment_patterns(function, size, size)
    function[-8][8] = 0x1
    region = (np.array(function, dtype=np.uint8) > 0x1).astype(np.uint8)
    i, j = np.indices((size, size))
    patterns = np.stack([np.vectorize(f, otypes=[np.uint8])(i, j) for f in encoder.get_data_mask_functions(False)])
    return region, patterns


def _scores(m: np.ndarray) -> list[int]:
    """segno's ``evaluate_mask`` (N1 + N2 + N3 + N4) of each of the masked matrices ``m`` (masks, n, n)."""
    masks, size = m.shape[0], m.shape[1]
    lines = np.concatenate([m.reshape(-1, size), m.transpose(0, 2, 1).reshape(-1, size)])  # rows, then columns
    owner = np.arange(2 * masks * size) // size % masks  # the mask each line belongs to
    n1 = _runs(lines, owner, masks)
    same = (m[:, 1:, 1:] == m[:, 1:, :-1]) & (m[:, 1:, 1:] == m[:, :-1, 1:]) & (m[:, 1:, 1:] == m[:, :-1, :-1])
    n2 = 3 * np.count_nonzero(same, axis=(1, 2))
    n3 = _n3(lines, owner, masks)
    dark = m.sum(axis=(1, 2))
    return [int(n1[k]) + int(n2[k]) + n3[k] + 10 * int(abs(float(dark[k]) / size**2 * 100 - 50) / 5)
            for k in range(masks)]


def _runs(lines: np.ndarray, owner: np.ndarray, masks: int) -> np.ndarray:
    """N1 per mask: each run of ≥ 5 same-coloured modules along a line scores its length − 2."""
    size = lines.shape[1]
    change = np.ones((lines.shape[0], size + 1), dtype=bool)
    change[:, 1:-1] = lines[:, 1:] != lines[:, :-1]
    rows, cols = np.nonzero(change)
    within = np.diff(rows) == 0
    lengths = np.diff(cols)[within]
    return np.bincount(owner[rows[:-1][within]], weights=np.where(lengths >= 5, lengths - 2, 0), minlength=masks)


def _n3(lines: np.ndarray, owner: np.ndarray, masks: int) -> list[int]:
    """N3 per mask, as segno's ``n3_pattern_occurrences`` counts it along each line.

    segno finds 1011101 from the start of the line; a find with 4 light modules before or after it
    (the line's edge counts as light) scores 40 and the search goes on after it, any other find goes on
    4 modules later (the pattern overlaps itself there). The finds are located on the array; only the
    order they are taken in is walked here.
    """
    size = lines.shape[1]
    found = np.ones((lines.shape[0], size - 6), dtype=bool)
    for k, bit in enumerate(_N3):
        found &= lines[:, k:size - 6 + k] == bit
    padded = np.zeros((lines.shape[0], size + 9), dtype=np.int32)  # 4 light modules beyond each edge, summed
    np.cumsum(lines, axis=1, out=padded[:, 5:size + 5])
    padded[:, size + 5:] = padded[:, size + 4:size + 5]
    idx = np.arange(size - 6)
    dark_before = padded[:, idx + 4] - padded[:, idx]  # modules idx-4 … idx-1
    dark_after = padded[:, idx + 15] - padded[:, idx + 11]  # modules idx+7 … idx+10
    counts = ((dark_before == 0) | (dark_after == 0)) & found
    scores = [0] * masks
    line_at, start = -1, 0
    for line, at in zip(*np.nonzero(found), strict=True):
        if line != line_at:
            line_at, start = line, 0
        if at < start:
            continue
        if counts[line, at]:
            scores[owner[line]] += 40
            start = at + 7
        else:
            start = at + 4
    return scores


def path(code: Any, border: int = 4) -> tuple[str, int]:
    """SVG path data (numbers only) of ``code``'s dark modules, one rectangle per run along a row, and the
    code's size in modules, a light quiet zone of ``border`` modules included."""
    dark = np.pad(np.array(code.matrix, dtype=bool), border)
    edges = np.diff(dark.astype(np.int8), axis=1, prepend=0, append=0)  # +1 where a run starts, −1 after it
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    return "".join(f"M{x} {y}h{n}v1h-{n}z" for y, x, n in zip(rows.tolist(), starts.tolist(),
                                                                  (ends - starts).tolist(), strict=True)), len(dark)
