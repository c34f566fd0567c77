"""Template clustering: masked skeletons grouped into templates, linear in messages.

1. Messages are masked (``text.slots.mask``); identical skeletons are one unit.
2. Units are taken most frequent first, in blocks of ``BLOCK``. A block's MinHash
   signatures are computed at once in numpy (``minhash``: over ``literal``, the
   words with each slot one character) and looked up in the LSH band table, so
   rapidfuzz scores a handful of candidate templates, never all pairs; the best
   at or above the threshold takes the unit, else it founds a new template.
   Templates founded earlier in the same block are candidates through the bands
   the block's units share.
3. LSH misses some near-duplicates of big templates (a few edits in a short Chinese
   text change many 3-grams). A unit LSH found no home for is therefore also scored
   against the established templates (at least ``ESTABLISHED`` messages, at most
   ``ESTABLISHED_MAX`` of them) whose signature agrees with its own on
   ``SCAN_AGREEMENT`` rows or more: a bounded, vectorised prefilter, then rapidfuzz
   on the few pairs that pass.
4. A match must also hold on the words around the slots: each slot counts as one
   character there (``literal``), so two short texts that are mostly one slot
   ("Win <AMOUNT> now" / "Pay <AMOUNT> now") are not glued by the slot's letters.
5. State is the template representatives and the skeleton → template map, so
   new messages join existing templates without re-clustering (incremental).
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from leaktrace.templates.minhash import (
    BANDS,
    NUM_PERM,
    BandTable,
    band_keys,
    shared_bands,
    signatures,
)

# Chosen by measurement: grouping accuracy on a simulated study of 102,450 messages
# (`leaktrace simulate DIR --messages 100000 --canaries 480 --controls 20 --seed 11`)
# was 0.979 at 70 (two bank templates merge), 1.000 at 75 and 80, 0.855 at 85 and
# 0.269 at 90 (noisy variants split off). 80 keeps the larger margin from merging.
DEFAULT_THRESHOLD = 80.0
# With the former LSH (14 bands of 4), on the simulated 1M-message study LSH alone split
# three templates (grouping accuracy 0.728; e.g. 客户 for <NAME> plus a typo: ratio 90.8).
ESTABLISHED = 10  # messages a template needs to be scanned when LSH finds nothing
ESTABLISHED_MAX = 2000
SCAN_AGREEMENT = 4  # MinHash rows of 64 a homeless skeleton shares with a template scanned
BLOCK = 256  # distinct skeletons assigned together
FOUND_CHARS = 1 << 20  # characters of stored templates signed at a time when loading
# The words around the slots must agree this much too (each slot one character). Below
# the threshold, so a long template's typo variants (whose slots are a small share)
# are judged as before (grouping accuracy on a simulated 30,839-message study, seed 11,
# stayed 1.000).
LITERAL_THRESHOLD = 70.0
_SLOT = re.compile(r"<[A-Z][A-Z0-9_]*>")  # <PHONE_400> too


def _slot_char(match: re.Match[str]) -> str:
    # One private-use character per slot kind, the same in every process and run.
    return chr(0xF0000 + zlib.crc32(match[0].encode()) % 0xFFFE)


def literal(skeleton: str) -> str:
    """The skeleton with each slot one character (one per kind): what its words say."""
    return _SLOT.sub(_slot_char, skeleton)


@dataclass
class TemplateIndex:
    """Templates found so far: representatives, sizes, and the LSH bands over them."""

    threshold: float = DEFAULT_THRESHOLD
    representatives: list[str] = field(default_factory=list)
    literals: list[str] = field(default_factory=list)  # literal() of each representative
    sizes: list[int] = field(default_factory=list)
    assigned: dict[str, int] = field(default_factory=dict)
    bands: BandTable = field(default_factory=BandTable)  # LSH: band key → template ids
    established: list[int] = field(default_factory=list)  # ids scanned when LSH finds nothing
    _established_sig: np.ndarray = field(
        default_factory=lambda: np.empty((0, NUM_PERM), dtype=np.uint32)
    )
    _established_ids: set[int] = field(default_factory=set)
    merged: dict[int, int] = field(default_factory=dict)  # merged by hand: template → target

    def found_all(self, skeletons: Sequence[str], sizes: Sequence[int]) -> list[int]:
        """Add one template per skeleton (a stored study being loaded); return their ids."""
        if len(skeletons) != len(sizes):
            raise ValueError("one size per skeleton")
        ids: list[int] = []
        start = 0
        while start < len(skeletons):
            end, chars = start, 0
            while end < len(skeletons) and (end == start or chars < FOUND_CHARS):
                chars += len(skeletons[end])
                end += 1
            words = [literal(s) for s in skeletons[start:end]]
            first = len(self.representatives)
            for skeleton, word, size in zip(
                skeletons[start:end], words, sizes[start:end], strict=True
            ):
                ids.append(self._found(skeleton, word, size))
            self.bands.add(band_keys(signatures(words)), range(first, len(self.representatives)))
            start = end
        return ids

    def _found(self, skeleton: str, words: str, size: int) -> int:
        """A new template (filed in the LSH bands by the caller)."""
        key = len(self.representatives)
        self.representatives.append(skeleton)
        self.literals.append(words)
        self.sizes.append(size)
        self.assigned.setdefault(skeleton, key)
        self._grow(key)
        return key

    def _grow(self, key: int) -> None:
        if (
            self.sizes[key] >= ESTABLISHED
            and len(self.established) < ESTABLISHED_MAX
            and key not in self._established_ids
        ):
            self._established_ids.add(key)
            self.established.append(key)
            self._established_sig = np.vstack(
                [self._established_sig, signatures([self.literals[key]])]
            )

    def assign(self, skeleton: str, count: int = 1) -> int:
        """The template of one skeleton, founding a new template when none is close enough."""
        return self._assign_block([skeleton], [count])[0]

    def assign_all(self, skeletons: Iterable[str]) -> np.ndarray:
        """Template ids for a batch of skeletons, frequent skeletons first."""
        first: dict[str, int] = {}
        codes = np.fromiter((first.setdefault(s, len(first)) for s in skeletons), dtype=np.int64)
        unique = list(first)
        counts = np.bincount(codes, minlength=len(unique))
        ids = np.empty(len(unique), dtype=np.int64)
        order = np.argsort(-counts, kind="stable")  # ties in the order first seen
        self.bands.reserve(len(unique) * BANDS)  # at most one template per skeleton
        for start in range(0, len(order), BLOCK):
            block = order[start : start + BLOCK]
            ids[block] = self._assign_block([unique[i] for i in block], counts[block].tolist())
        return ids[codes]

    def _assign_block(self, skeletons: list[str], counts: list[int]) -> list[int]:
        """Assign distinct skeletons in order; the scans run batched over LSH's homeless."""
        out = [self.assigned.get(s, -1) for s in skeletons]
        fresh = [i for i, known in enumerate(out) if known < 0]
        texts = [skeletons[i] for i in fresh]
        words = [literal(t) for t in texts]
        signature = signatures(words)
        keys = band_keys(signature)
        # 1. LSH against the templates there were before this block.
        homeless: dict[int, int] = {}  # position in fresh → row in the scans
        for j, near in enumerate(self.bands.lookup(keys)):
            out[fresh[j]] = self._best_of(texts[j], words[j], near) if near else -1
            if out[fresh[j]] < 0:
                homeless[j] = len(homeless)
        # 2. In order: LSH against the templates this block founded, then the scan.
        scanned = self._scan(signature[list(homeless)]) if homeless else []
        earlier = shared_bands(keys) if homeless else {}
        founders: dict[int, int] = {}  # position in fresh → the template it founded
        for j, i in enumerate(fresh):
            best = out[i]
            if best < 0 and founders and j in earlier:
                near = {founders[k] for k in earlier[j] if k in founders}
                if near:
                    best = self._best_of(texts[j], words[j], near)
            if best < 0 and scanned and scanned[homeless[j]]:
                best = self._best_of(texts[j], words[j], scanned[homeless[j]])
            if best < 0:
                best = founders[j] = self._found(texts[j], words[j], 0)
            while best in self.merged:  # a template merged by hand lives on in its target
                best = self.merged[best]
            out[i] = best
            self.assigned[texts[j]] = best
        self.bands.add(keys[list(founders)], list(founders.values()))
        for key, count in zip(out, counts, strict=True):
            self.sizes[key] += count
            self._grow(key)
        return out

    def _best_of(self, skeleton: str, words: str, candidates: Iterable[int]) -> int:
        """The best candidate at or above the threshold whose words agree too; -1 if none.

        Ties go to the oldest template.
        """
        keys = sorted(candidates)
        hits = process.extract(
            skeleton,
            [self.representatives[k] for k in keys],
            scorer=fuzz.ratio,
            score_cutoff=self.threshold,
            limit=None,
        )
        for _, _, i in sorted(hits, key=lambda hit: (-hit[1], hit[2])):
            if self._words_agree(words, keys[i]):
                return keys[i]
        return -1

    def _words_agree(self, words: str, key: int) -> bool:
        return fuzz.ratio(words, self.literals[key], score_cutoff=LITERAL_THRESHOLD) > 0

    def _scan(self, signature: np.ndarray) -> list[list[int]]:
        """For each of LSH's homeless, the established templates its MinHash agrees with.

        ``SCAN_AGREEMENT`` of the 64 signature rows must agree (an estimated Jaccard of
        about 0.06; pairs of Jaccard 0.15 reach it 99 % of the time, of 0.2 99.95 %), so rapidfuzz
        scores a few pairs instead of every pair.
        """
        if not self.established:
            return []
        agree = np.zeros((len(signature), len(self.established)), dtype=np.uint8)
        step = max(1, (1 << 22) // (NUM_PERM * len(self.established)))  # rows at a time
        for row in range(0, len(signature), step):
            block = signature[row : row + step, None, :] == self._established_sig[None, :, :]
            agree[row : row + step] = block.sum(axis=2, dtype=np.uint8)
        out: list[list[int]] = [[] for _ in range(len(signature))]
        rows, columns = np.nonzero(agree >= SCAN_AGREEMENT)
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            out[row].append(self.established[column])
        return out


def grouping_accuracy(predicted: Sequence[Hashable], true: Sequence[Hashable]) -> float:
    """Loghub's grouping accuracy: a message counts when its predicted group is its true group."""
    by_predicted: dict[Hashable, set[int]] = defaultdict(set)
    by_true: dict[Hashable, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, true, strict=True)):
        by_predicted[p].add(i)
        by_true[t].add(i)
    right = sum(
        len(members)
        for t, members in by_true.items()
        if by_predicted[predicted[min(members)]] == members
    )
    return right / len(true) if true else 1.0
