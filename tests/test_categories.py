"""Template categories from the bilingual keyword lexicons."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from leaktrace.text.categories import OTHER, categorize, category_text, load_lexicon
from leaktrace.text.slots import mask

FILL = {
    "sig": "【某平台】",
    "name": "客户",
    "amount": "3万",
    "date": "3月1日",
    "url": "https://a.test/x",
    "reply": "回T退订",
    "callback": "400-100-1000",
    "code": "123456",
    "platform": "某平台",
}
BANK = json.loads(
    resources.files("leaktrace").joinpath("data/sim_templates.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("template", BANK["campaign"], ids=lambda t: t["id"])
def test_every_simulated_campaign_template_gets_its_category(template):
    category = categorize(mask(template["text"].format(**FILL)).skeleton)
    assert category.name == template["category"]
    assert category.confidence > 0.3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("【某平台】您的验证码为123456，5分钟内有效，请勿泄露给他人。", "verification"),
        ("[Lendly] 123456 is your Lendly code. Do not share it.", "verification"),
        ("【某平台】感谢您使用某平台，本月会员专享福利已到账，登录APP查看，回T退订", "marketing"),
    ],
)
def test_first_party_texts_are_verification_or_marketing(text, expected):
    assert categorize(mask(text, platforms=("某平台", "Lendly")).skeleton).name == expected


def test_a_text_without_keywords_is_other_with_no_confidence():
    category = categorize("今天天气不错")
    assert (category.name, category.confidence) == (OTHER, 0.0)


def test_users_extend_the_lexicon_with_their_own_file(tmp_path):
    text = "【某平台】加入我们的炒股群，内幕消息天天有"
    assert categorize(text).name == OTHER
    extra = tmp_path / "mine.toml"
    extra.write_text('[stocks]\nlabel = "stock tips"\n\n[stocks.keywords]\n"炒股" = 3\n', "utf-8")
    assert categorize(text, load_lexicon(extra)).name == "stocks"
    # The shipped keywords are still there.
    assert categorize("您有3万备用金额度", load_lexicon(extra)).name == "loan"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Latin keywords are words: "bet" is not in "better", "apr" not in "April".
        ("I feel better between the two of us", "other"),
        ("See you in April, say hi to Cashmere", "other"),
        ("Place a bet now, the jackpot is waiting", "gambling"),
        # Look-alikes and Cyrillic letters fold back: l0an, саsh.
        ("Instant l0an, саsh in 10 minutes", "loan"),
        # Prize spam with a claim code is fraud, not a verification text.
        ("Claim code <CODE> to collect your prize, you are a winner", "fraud"),
        # Chinese loan spam that splits or swaps the characters filters look for.
        ("【信】【用】【咔】急用钱？资金周转找我们", "loan"),
        ("贷*款秒批，下款快", "loan"),
        ("贷 款 额 度 <NUM>万", "loan"),
        ("网.贷黑户也能下款", "loan"),
    ],
)
def test_keywords_are_words_and_survive_obfuscation(text, expected):
    assert categorize(text).name == expected


def test_separators_are_taken_out_only_between_chinese_characters():
    # Clause punctuation stays: 利，率 is two clauses, not the keyword 利率.
    assert category_text("利，率") == "利，率"
    assert category_text("贷*款 · 利.率") == "贷款利率"
