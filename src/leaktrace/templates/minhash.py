"""MinHash signatures and LSH band keys of many texts at once, in numpy.

A text's shingles are its character 3-grams, each packed exactly into one 64-bit
integer (three code points of 21 bits), so there are no hash collisions between
shingles and no per-shingle Python call. Where five ASCII characters follow in the
same text the shingle is those five instead (7 bits each, top bit set): Latin
letters say less than Chinese characters, and English 3-grams (" th", "ing") are
shared by unrelated texts. Each of ``NUM_PERM`` hash functions is a multiply-add of
the mixed shingle; a text's signature is the top half of the minimum of each over
its shingles (``np.minimum.reduceat`` over the whole batch). Two texts agree on one
signature row with probability about the Jaccard similarity of their shingle sets.
Band keys fold ``ROWS`` rows into one integer per band: texts that agree on all
rows of some band are LSH candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NGRAM = 3
LATIN_NGRAM = 5
NUM_PERM = 64
ROWS = 3  # rows per band; NUM_PERM // ROWS bands
BANDS = NUM_PERM // ROWS


def _constants(seed: int, count: int) -> np.ndarray:
    """``count`` 64-bit constants from splitmix64 in plain integers: the same in every
    numpy version (numpy does not promise its generators' streams), so the same skeletons
    get the same templates after an upgrade."""
    out, state, mask = [], seed, (1 << 64) - 1
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return np.array(out, dtype=np.uint64)


_A = _constants(1, NUM_PERM) | np.uint64(1)  # odd multipliers
_B = _constants(2, NUM_PERM)
_FOLD = (_constants(3, BANDS * ROWS) | np.uint64(1)).reshape(BANDS, ROWS)
_BAND_SALT = _constants(4, BANDS)
_PAD = "\x00" * NGRAM
ID_BITS = 26  # up to 67M templates
_ID_MASK = np.uint64((1 << ID_BITS) - 1)
_KEY_MASK = ~_ID_MASK


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def signatures(texts: Sequence[str]) -> np.ndarray:
    """The MinHash signature of each text: an array of shape (len(texts), NUM_PERM)."""
    if not texts:
        return np.empty((0, NUM_PERM), dtype=np.uint32)
    # Short texts are padded to one shingle; every text then has len - 2 shingles.
    padded = [t if len(t) >= NGRAM else (t + _PAD)[:NGRAM] for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    packed = (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]
    ends = np.cumsum(lengths)
    keep = np.ones(len(codes), dtype=bool)
    keep[ends - 1] = False
    keep[ends - 2] = False  # a shingle starting in the last two places runs into the next text
    if LATIN_NGRAM > NGRAM:
        # Latin letters say less than Chinese characters: where LATIN_NGRAM ASCII characters
        # follow in the same text, the shingle is those (7 bits each, top bit set).
        n = max(0, len(codes) - LATIN_NGRAM + 1)
        ascii_run = np.ones(n, dtype=bool)
        wide = np.uint64(1) << np.uint64(63)
        for k in range(LATIN_NGRAM):
            ascii_run &= codes[k : k + n] < 128
            wide |= codes[k : k + n] << np.uint64(7 * (LATIN_NGRAM - 1 - k))
        end_of = np.repeat(ends, lengths)[:n]
        ascii_run &= np.arange(n) + LATIN_NGRAM <= end_of
        packed[:n][ascii_run] = wide[ascii_run]
    shingles = _mix(packed[keep[:-2]])
    starts = ends - lengths - 2 * np.arange(len(texts), dtype=np.int64)
    out = np.empty((NUM_PERM, len(texts)), dtype=np.uint64)
    hashed = np.empty_like(shingles)
    for p in range(NUM_PERM):
        np.multiply(shingles, _A[p], out=hashed)
        np.add(hashed, _B[p], out=hashed)
        # The least of the 64-bit hashes has the least top half too.
        np.minimum.reduceat(hashed, starts, out=out[p])
    return (out.T >> np.uint64(32)).astype(np.uint32)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """One integer per (text, band), shape (texts, BANDS): equal keys, equal band rows."""
    rows = signature[:, : BANDS * ROWS].astype(np.uint64).reshape(len(signature), BANDS, ROWS)
    folded = (rows * _FOLD).sum(axis=2, dtype=np.uint64) + _BAND_SALT
    return _mix(folded)


class BandTable:
    """Band key → template ids, for millions of templates in little memory.

    An entry is one 64-bit integer: the key's top ``64 - ID_BITS`` bits and the
    template id below them (two keys alike in those bits only offer a candidate that rapidfuzz
    then rejects, about once per thousand texts at 20M entries). Each batch is one
    sorted level, merged with the last while that is no more than twice as big
    (log-structured), so there are only a few levels and ``lookup`` searches each
    of them for a whole batch of keys at once.
    """

    def __init__(self) -> None:
        self.levels: list[np.ndarray] = []
        self.entries = 0
        # One bit per slot of the keys' top bits, 32+ slots an entry: most keys of a new
        # text were never filed (a one-off), and this answers that without a search.
        self.bits = np.zeros(1 << 13, dtype=np.uint8)
        self.shift = np.uint64(64 - 16)

    def _mark(self, keys: np.ndarray) -> None:
        """Set the bits of sorted keys: one OR per byte they touch, no unbuffered ufunc.at."""
        slots = keys >> self.shift
        byte = slots >> np.uint64(3)
        bit = np.left_shift(np.uint8(1), (slots & np.uint64(7)).astype(np.uint8))
        first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        self.bits[byte[first]] |= np.bitwise_or.reduceat(bit, first)

    def _maybe(self, keys: np.ndarray) -> np.ndarray:
        slots = keys >> self.shift
        return (self.bits[slots >> np.uint64(3)] >> (slots & np.uint64(7)).astype(np.uint8)) & 1 > 0

    def add(self, keys: np.ndarray, templates: Sequence[int]) -> None:
        """File each template under its row of band keys."""
        if not len(templates):
            return
        ids = np.repeat(np.asarray(templates, dtype=np.uint64), keys.shape[1])
        if ids.max() > _ID_MASK:
            raise ValueError(f"more than {int(_ID_MASK):,} templates")
        level = np.sort((keys.ravel() & _KEY_MASK) | ids)
        self.reserve(len(level))
        self.entries += len(level)
        self._mark(level)
        while self.levels and len(self.levels[-1]) <= 2 * len(level):
            level = np.concatenate([self.levels.pop(), level])
            level.sort(kind="stable")  # two sorted runs: merged in linear time
        self.levels.append(level)

    def reserve(self, entries: int) -> None:
        """Size the filter for this many more entries, once, not step by step."""
        want = self.entries + entries
        size, shift = len(self.bits), int(self.shift)
        while want * 32 > size * 8:  # fourfold steps: the slot is the key's top bits
            size, shift = size * 4, shift - 2
        if size == len(self.bits):
            return
        self.bits, self.shift = np.zeros(size, dtype=np.uint8), np.uint64(shift)
        for level in self.levels:
            self._mark(level)

    def lookup(self, keys: np.ndarray) -> list[set[int]]:
        """For each row of band keys, the templates filed under any of them."""
        found: list[set[int]] = [set() for _ in range(len(keys))]
        if not self.levels:
            return found
        flat = keys.ravel() & _KEY_MASK
        order = np.flatnonzero(self._maybe(flat))
        order = order[np.argsort(flat[order])]
        needles = flat[order]  # sorted: each search starts where the last ended
        for level in self.levels:
            low = np.searchsorted(level, needles)
            hits = np.flatnonzero((level[np.minimum(low, len(level) - 1)] & _KEY_MASK) == needles)
            if not len(hits):
                continue
            high = np.searchsorted(level, needles[hits] | _ID_MASK, "right")
            rows = order[hits] // keys.shape[1]
            for row, start, end in zip(
                rows.tolist(), low[hits].tolist(), high.tolist(), strict=True
            ):
                found[row].update((level[start:end] & _ID_MASK).tolist())
        return found


def shared_bands(keys: np.ndarray, most: int = 8) -> dict[int, list[int]]:
    """Rows of ``keys`` that share a band key with an earlier row: later → earlier rows.

    Of each run of rows sharing one key, a row is paired with the run's first ``most``
    rows only (a block of near-duplicates would otherwise pair every row with every
    earlier one); the template they are near is founded by the first of them.
    """
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    repeat = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1  # positions equal to the one before
    pairs: dict[int, list[int]] = {}
    if not len(repeat):
        return pairs
    rows = (order // keys.shape[1]).tolist()
    run_start = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    first_of = run_start[np.searchsorted(run_start, repeat, "right") - 1]
    for first, at in zip(first_of.tolist(), repeat.tolist(), strict=True):
        later = rows[at]
        for earlier in rows[first : min(at, first + most)]:
            if earlier != later:
                pairs.setdefault(later, []).append(earlier)
    return pairs
