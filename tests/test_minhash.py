"""The numpy MinHash and the LSH band table behind template clustering."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.templates.minhash import (
    BANDS,
    NUM_PERM,
    BandTable,
    band_keys,
    shared_bands,
    signatures,
)


def _jaccard(a: str, b: str) -> float:
    def grams(t: str) -> set[str]:
        return {t[i : i + 3] for i in range(len(t) - 2)}

    return len(grams(a) & grams(b)) / len(grams(a) | grams(b))


def test_signature_agreement_estimates_the_jaccard_of_the_shingles():
    rng = random.Random(3)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    base = "".join(rng.choices(han, k=400))
    for edits in (0, 10, 40, 120):
        text = list(base)
        for i in rng.sample(range(len(text)), edits):
            text[i] = rng.choice(han)
        other = "".join(text)
        sig = signatures([base, other])
        agreement = float((sig[0] == sig[1]).mean())
        # 64 rows: the estimate's standard error is at most 0.0625.
        assert abs(agreement - _jaccard(base, other)) < 0.2, edits
    unrelated = signatures([base, "".join(rng.choices(han, k=400))])
    assert (unrelated[0] == unrelated[1]).mean() < 0.1


def test_signatures_are_the_same_in_any_batch_and_for_short_texts():
    texts = ["", "a", "ab", "abc", "您有<AMOUNT>额度", "Win now", "abc"]
    alone = np.vstack([signatures([t]) for t in texts])
    together = signatures(texts)
    assert together.shape == (len(texts), NUM_PERM)
    assert (alone == together).all()
    assert (together[3] == together[6]).all()  # equal texts, equal signatures
    assert band_keys(together).shape == (len(texts), BANDS)
    assert signatures([]).shape == (0, NUM_PERM)


def test_latin_shingles_are_longer_so_common_english_does_not_make_candidates():
    # Two unrelated English sentences share 3-grams (" th", "the", "ing") but few 5-grams.
    a = "the thing is that nothing in the morning is interesting to them at all"
    b = "then the king was thinking of something else during the long evening"
    sig = signatures([a, b])
    assert (sig[0] == sig[1]).mean() < 0.1


keys_strategy = st.lists(
    st.lists(st.integers(0, 5), min_size=1, max_size=4), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(st.lists(keys_strategy, min_size=1, max_size=8), st.integers(0, 2**20))
def test_the_band_table_finds_exactly_what_a_dictionary_finds(batches, salt):
    # Small key alphabets force repeats within and across batches and several merges.
    table, truth = BandTable(), {}
    spread = np.uint64(0x9E3779B97F4A7C15)
    template = 0
    for batch in batches:
        width = max(len(row) for row in batch)
        rows = [(row * width)[:width] for row in batch]
        keys = (np.array(rows, dtype=np.uint64) + np.uint64(salt)) * spread
        ids = list(range(template, template + len(rows)))
        template += len(rows)
        table.add(keys, ids)
        for row, key_row in zip(ids, keys.tolist(), strict=True):
            for key in key_row:
                truth.setdefault(key, set()).add(row)
        probe = keys[::-1]
        expected = [set().union(*(truth.get(k, set()) for k in row)) for row in probe.tolist()]
        assert table.lookup(probe) == expected
    assert sum(len(level) for level in table.levels) == sum(
        len(b) * max(len(r) for r in b) for b in batches
    )


def test_the_hash_constants_do_not_depend_on_numpys_generators():
    from leaktrace.templates import minhash

    # splitmix64's first outputs for seed 0, 1 (a published test vector for seed 0).
    assert int(minhash._constants(0, 1)[0]) == 0xE220A8397B1DCDAF
    assert (minhash._A & np.uint64(1)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=1, max_size=20))
def test_shared_bands_lists_every_earlier_row_sharing_a_key(rows):
    keys = np.array(rows, dtype=np.uint64)
    expected: dict[int, set[int]] = {}
    for later in range(len(rows)):
        for earlier in range(later):
            if set(rows[later]) & set(rows[earlier]):
                expected.setdefault(later, set()).add(earlier)
    found = {k: set(v) for k, v in shared_bands(keys, most=10**6).items()}
    assert found == expected


def test_shared_bands_pairs_a_block_of_near_duplicates_with_its_first_rows_only():
    keys = np.tile(np.arange(BANDS, dtype=np.uint64), (256, 1))  # rows alike in every band
    pairs = shared_bands(keys, most=8)
    assert set(pairs) == set(range(1, 256))
    assert all(set(v) == set(range(min(k, 8))) for k, v in pairs.items())
