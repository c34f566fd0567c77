"""Normalisation and typed slot masking, in Chinese and English."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.text.normalize import ASTRAL_EMOJI, normalize, strip_emoji
from leaktrace.text.slots import instructions, mask, url_host


def test_normalize_folds_widths_and_drops_invisible_characters_and_emoji():
    text = "【安易花】您有３００００元\u200b额度　点击ｈｔｔｐｓ://x.test 😎🔥👍🏽 回Ｔ退订 ✨"
    assert normalize(text) == "【安易花】您有30000元额度点击https://x.test 回T退订"


# Characters NFKC treats specially: full-width punctuation (replaced before it), combining
# marks that compose or reorder, Hangul jamo, half-width kana and voicing marks, ligatures.
_NFKC_PIECES = list("，：；！？（）,:;!?()aAé\u0301\u0327\u0323\u1100\u1161\u11a8ｶﾞ\u3099ﬁ①㎡Ｖ贷 ")


@given(st.lists(st.sampled_from(_NFKC_PIECES), max_size=30).map("".join) | st.text(max_size=40))
def test_the_quick_nfkc_is_unicodedatas(text):
    import unicodedata

    from leaktrace.text.normalize import _nfkc

    assert _nfkc(text) == unicodedata.normalize("NFKC", text)


def test_whitespace_runs_are_one_space_for_every_kind_of_space():
    spaces = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    assert normalize(f"{spaces}a{spaces}b\u3000\u2028c{spaces}") == "a b c"


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=6))
def test_slots_are_stored_as_json_dumps_writes_them(pairs):
    import json

    from leaktrace.text.slots import Masked, Slot

    masked = Masked("x", None, tuple(Slot(kind, value) for kind, value in pairs))
    assert masked.slots_json == json.dumps(masked.slots, ensure_ascii=False)
    assert json.loads(masked.slots_json) == [list(p) for p in pairs]


def test_every_emoji_of_the_emoji_package_is_stripped():
    import emoji

    astral = {ord(ch) for e in emoji.EMOJI_DATA for ch in e if ord(ch) > 0xFFFF}
    assert all(any(a <= p <= b for a, b in ASTRAL_EMOJI) for p in astral)
    # A keycap keeps its ASCII base: "1️⃣" reads as 1.
    kept = {e: "".join(ch for ch in e if ch.isascii()) for e in emoji.EMOJI_DATA}
    assert all(strip_emoji(f"a{e}b") == f"a{kept[e]}b" for e in emoji.EMOJI_DATA)
    assert strip_emoji("还款。【银行】¥3万") == "还款。【银行】¥3万"


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("点击https://ub1d.test/S6Indd立即领取", "URL", "https://ub1d.test/S6Indd"),
        ("Claim now: http://4brp.test/H7LUmM today", "URL", "http://4brp.test/H7LUmM"),
        ("戳 t.cn/A6x9Zq 领取", "URL", "t.cn/A6x9Zq"),
        ("联系 service@loan.example 办理", "EMAIL", "service@loan.example"),
        ("详询400-104-0152", "PHONE_400", "400-104-0152"),
        ("客服热线4001040152", "PHONE_400", "4001040152"),
        ("请致电95588查询", "PHONE_95", "95588"),
        ("回拨1069007602123", "PHONE_106", "1069007602123"),
        ("或致电13812345678", "PHONE_MOBILE", "13812345678"),
        ("call +86 138 1234 5678 now", "PHONE_MOBILE", "+86 138 1234 5678"),
        ("您有30000元备用金", "AMOUNT", "30000元"),
        ("额度3万", "AMOUNT", "3万"),
        ("最高¥20,000", "AMOUNT", "¥20,000"),
        ("pre-approved for a $5,000 loan", "AMOUNT", "$5,000"),
        ("将于3月31日到期", "DATE", "3月31日"),
        ("截止2026-03-31", "DATE", "2026-03-31"),
        ("Offer ends Mar 31.", "DATE", "Mar 31"),
        ("于14:05支出", "TIME", "14:05"),
        ("您的验证码是482913,5分钟内有效", "CODE", "482913"),
        ("Your code is 123456.", "CODE", "123456"),
        ("回T退订", "REPLY", "回T退订"),
        ("拒收请回复R", "REPLY", "拒收请回复R"),
        ("回复JY办理", "REPLY", "回复JY办理"),
        ("回复Y+姓名领取", "REPLY", "回复Y+姓名"),
        ("Reply STOP to opt out", "REPLY", "Reply STOP"),
        ("加微信 loan_abc123 了解", "WECHAT", "loan_abc123"),
        ("加QQ 12345678 咨询", "QQ", "12345678"),
    ],
)
def test_each_slot_type_is_masked_and_its_value_kept(text, kind, value):
    masked = mask(text)
    assert value in masked.values(kind), masked
    assert f"<{kind}>" in masked.skeleton


def test_the_signature_is_split_off_at_the_start_or_the_end():
    front = mask("【安易花】您有30000元备用金额度")
    back = mask("您的验证码是482913。【快立保】")
    english = mask("[CreditPlus] Dear customer")
    assert (front.signature, front.skeleton) == ("安易花", "【<SIG>】您有<AMOUNT>备用金额度")
    assert (back.signature, back.skeleton) == ("快立保", "您的验证码是<CODE>。【<SIG>】")
    assert (english.signature, english.skeleton) == ("CreditPlus", "[<SIG>] Dear customer")


def test_the_recipients_name_variant_is_masked_with_its_exact_spelling():
    names = ["张伟", "张玮"]  # the persona's name and the variant given to one source
    masked = mask("【安易花】尊敬的张玮，您有3万备用金", names=names)
    assert masked.values("NAME") == ["张玮"]
    assert masked.skeleton == "【<SIG>】尊敬的<NAME>,您有<AMOUNT>备用金"


def test_two_messages_of_one_template_share_a_skeleton():
    a = mask(
        "【好借易】尊敬的客户，您有3万备用金额度将于1月14日到期，点击https://3e62.test/S6Indd立即领取，回TD退订"
    )
    b = mask(
        "【好借易】尊敬的客户，您有8万元备用金额度将于2026-02-03到期，"
        "点击https://3e62.test/xY1 立即领取，回TD退订"
    )
    assert a.skeleton == b.skeleton.replace("<URL> ", "<URL>")
    assert url_host(a.values("URL")[0]) == "3e62.test"


def test_a_latin_name_written_with_look_alike_digits_is_still_the_name():
    masked = mask("Dear J3nnifer Dav1la, your $5,000 is ready", ["Jennifer Davila"])
    assert masked.skeleton == "Dear <NAME>, your <AMOUNT> is ready"
    assert masked.values("NAME") == ["J3nnifer Dav1la"]  # the evidence, as written
    assert mask("尊敬的张伟", ["张伟"]).values("NAME") == ["张伟"]
    assert mask("Dear Jennifer", ["Jenny"]).values("NAME") == []


def test_placeholders_never_feed_later_patterns():
    masked = mask("详询400-104-0152或95588")
    assert masked.skeleton == "详询<PHONE_400>或<PHONE_95>"
    assert [s.kind for s in masked.slots] == ["PHONE_400", "PHONE_95"]


@given(st.text(max_size=200))
def test_masking_any_text_keeps_every_value_and_leaves_no_private_tokens(text):
    masked = mask(text)
    plain = normalize(text)
    plain = re.sub("[\U000f0000-\U000f0fff]", "\ufffd", plain)  # mask() reserves this range
    assert all(s.value.strip() in plain for s in masked.slots)
    assert not any(0xF0000 <= ord(ch) <= 0xF0FFF for ch in masked.skeleton)


# Pieces every slot pattern reacts to, so generated texts hit their edges.
_PIECES = [
    *"0123456789 +-./:,@年月日号点分元万块千kKT¥$€回复拒收退订姓名微信QqVvWwxX扣号码验证为您的",
    "http://",
    "https://",
    "t.cn/",
    ".com",
    "106",
    "400",
    "95",
    "96",
    "86",
    "€",
    "£",
    "￥",
    "wechat",
    "QQ",
    "RMB",
    "USD",
    "dollars",
    "yuan",
    "Mar",
    "March",
    "Sept",
    "st",
    "code is",
    " is your",
    "reply ",
    "TXT ",
    "a",
    "Z",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_the_starts_lookahead_never_changes_a_match(text):
    for step in instructions():
        assert [m.span() for m in step.scan.finditer(text)] == [
            m.span() for m in step.pattern.finditer(text)
        ], step.kind


_NAMES = ("Shopmore", "Loan Pool", "7eleven", "$hop", "融联农商银行", "信联查查", "-x-", "宜联借")
_NAME_PIECES = [
    *_NAMES,
    *"Ss5$hH0oOLl1|Pp7Tt融信宜 -x",
    *("\t", "pool", "LOAN", "银行", "shopmore", "5HOPMORE", "$h0pm0r3", "sh0p"),
    *("loan pool", "1oan  pool", "|0an\tp00l", "7ELEVEN", "te1eve", "$HOP"),
]


@given(
    st.lists(st.sampled_from(_NAME_PIECES), max_size=20).map("".join),
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=5).map(tuple),
)
def test_the_names_lookahead_never_changes_a_match(text, names):
    import re

    from leaktrace.text.slots import _name_regex, _names_pattern

    unique = sorted(set(names), key=len, reverse=True)
    plain = re.compile("|".join(_name_regex(n) for n in unique))
    assert [m.span() for m in _names_pattern(names).finditer(text)] == [
        m.span() for m in plain.finditer(text)
    ]


@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_the_cheap_checks_before_each_kind_never_change_a_mask(text):
    # Digit-led kinds skip texts (as masked so far) without a digit; kinds with
    # `requires` skip those without one of its strings.
    from dataclasses import replace

    from leaktrace.text import slots

    plain = tuple(replace(step, needs_digit=False, requires=None) for step in instructions())
    assert any(step.needs_digit for step in instructions())
    assert sum(step.requires is not None for step in instructions()) >= 10
    expected = mask(text)
    original = slots.instructions
    slots.instructions = lambda: plain
    try:
        assert mask(text) == expected
    finally:
        slots.instructions = original


def test_masking_many_on_every_core_gives_what_masking_each_text_gives(monkeypatch):
    from leaktrace.text import batch

    # Repeated bodies sent to recipients with different names: the name is masked
    # only where it occurs, and each text still gets its own answer.
    texts = [
        f"【安易花】尊敬的张伟，您有{i % 7}元额度，详询400-104-0152，回T退订" for i in range(40)
    ]
    texts += [f"Dear Ada, ${i % 3},000 is yours at x{i % 2}.test" for i in range(20)]
    names = [("张伟",) if i % 2 else ("李娜",) for i in range(40)] + [("Ada",), ()] * 10
    one_by_one = [mask(t, n) for t, n in zip(texts, names, strict=True)]
    expected = (
        [m.skeleton for m in one_by_one],
        [m.signature for m in one_by_one],
        [m.slots_json for m in one_by_one],
    )
    in_turn = batch.mask_many(texts, names)
    assert (in_turn.skeletons, in_turn.signatures, in_turn.slots) == expected
    assert in_turn.skeletons[1] != in_turn.skeletons[0] and "<NAME>" in in_turn.skeletons[1]
    monkeypatch.setattr(batch, "PARALLEL_MIN", 0)
    monkeypatch.setattr(batch, "CHUNK", 7)
    assert batch.mask_many(texts, names) == in_turn
    # The same as a column read from the store: Arrow texts, each row's names as a code.
    import numpy as np
    import pyarrow as pa

    sets = sorted(set(names))
    codes = np.array([sets.index(n) for n in names])
    for chunks in ([texts], [texts[:25], texts[25:]]):
        column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks])
        assert batch.mask_column(column, codes, sets) == in_turn
    monkeypatch.setattr(batch, "PARALLEL_MIN", 1 << 30)
    assert batch.mask_column(pa.array(texts), codes, sets) == in_turn
    assert batch.mask_column(pa.array([], pa.string()), codes[:0], sets) == batch.MaskedBatch(
        [], [], []
    )


@pytest.mark.parametrize(
    ("text", "skeleton", "values"),
    [
        ("Call within 12hrs", "Call within 12hrs", []),
        ("150ppm max", "150ppm max", []),
        ("Model M95 now", "Model M95 now", []),
        ("2.000GB of data", "2.000GB of data", []),
        ("Get 2.000 GB", "Get <NUM> GB", ["2.000"]),
        ("A12元 voucher", "A12元 voucher", []),
        ("USD100 bonus", "<AMOUNT> bonus", ["USD100"]),
    ],
)
def test_a_number_glued_to_letters_is_one_token_never_cut(text, skeleton, values):
    masked = mask(text)
    assert masked.skeleton == skeleton and [s.value for s in masked.slots] == values


_TOKENS = [
    "12hrs", "150ppm", "M95", "2.000GB", "3.5", "10,000", "¥300", "5万", "5000元", "USD100",
    "42", "7", "x9", "v2.0", "100k", "1069001234567", "95588", "400-104-0152",
    "13800138000", "call", "now", "利息", "额度", "点击", " ", " ", ",", "。",
]  # fmt: skip
_NUMERIC = {"NUM", "AMOUNT", "PHONE_106", "PHONE_400", "PHONE_MOBILE", "PHONE_95"}


@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))
def test_masking_changes_nothing_outside_its_slots_and_never_cuts_a_token(text):
    plain = normalize(text)
    masked = mask(text)
    parts = re.split(r"<([A-Z_0-9]+)>", masked.skeleton)
    kinds = parts[1::2]
    if len(kinds) != len(masked.slots):
        return  # a run of one kind was read as one slot ("回Y领取,回T退订"): not comparable
    assert kinds == [s.kind for s in masked.slots]
    # Every slot back in its place gives the text: nothing else was changed.
    rebuilt = []
    for literal, slot in zip(parts[0::2], [*masked.slots, None], strict=True):
        rebuilt.append(literal)
        if slot is not None:
            rebuilt.append(slot.value)
    assert "".join(rebuilt) == plain
    # A numeric slot neither starts nor ends inside a word or a number: where its value
    # begins (ends) with a letter or digit, none stands right before (after) it.
    word = re.compile(r"[A-Za-z0-9]")
    for before, slot, after in zip(parts[0::2], masked.slots, parts[2::2], strict=False):
        if slot.kind in _NUMERIC:
            if word.match(slot.value[:1]):
                assert not word.match(before[-1:]), (text, slot)
            if word.match(slot.value[-1:]):
                assert not word.match(after[:1]), (text, slot)


@pytest.mark.parametrize(
    ("text", "skeleton", "value"),
    [
        # Broken and spelled-out schemes, bare short links, ideographic dots in hosts.
        ("请点击http:/j.mp/g37akt领取", "请点击<URL>领取", "http://j.mp/g37akt"),
        ("请点击http//j.mp/xfy68p领取", "请点击<URL>领取", "http://j.mp/xfy68p"),
        ("请点击hxxp://t.cn/A6x领取", "请点击<URL>领取", "http://t.cn/A6x"),
        ("戳h t t p s ://dwz.cn/x9看看", "戳<URL>看看", "https://dwz.cn/x9"),
        ("访问t。cn/AbC领取", "访问<URL>领取", "t.cn/AbC"),
        ("Go to j.mp/abc now", "Go to <URL> now", "j.mp/abc"),
        # Separators put between Chinese characters.
        ("贷*款额度5万", "贷款额度<AMOUNT>", "5万"),
        ("贷 款额度5万", "贷款额度<AMOUNT>", "5万"),
        ("贷.款·额度5万", "贷款额度<AMOUNT>", "5万"),
        # Digits replaced by x in a phone number.
        ("致电138xxxx1234办理", "致电<PHONE_MOBILE>办理", "138xxxx1234"),
        # Cyrillic look-alikes inside a Latin word.
        ("Get cаsh at bit.ly/x1", "Get cash at <URL>", "bit.ly/x1"),
    ],
)
def test_obfuscated_spellings_mask_as_the_plain_ones(text, skeleton, value):
    masked = mask(text)
    assert masked.skeleton == skeleton and value in [s.value for s in masked.slots]


def test_an_obfuscated_message_shares_the_plain_ones_skeleton():
    plain = mask("【鑫享贷】您有5万元额度，点http://j.mp/g37akt领取，回T退订")
    for variant in (
        "【鑫享贷】您有5万元额度，点http:/j.mp/xfy68p领取，回T退订",
        "【鑫享贷】您有8万元额*度，点hxxp://j。mp/q1w2e3领取，回T退订",
    ):
        assert mask(variant).skeleton == plain.skeleton
