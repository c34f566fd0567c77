"""One look-alike table: Python masking and the SQL marker match fold the same way."""

from __future__ import annotations

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.charsets import HAN, LOOKALIKES, fold_lookalikes, fold_lookalikes_sql
from leaktrace.text.slots import names_in

ALPHABET = "".join(LOOKALIKES) + "".join(LOOKALIKES.values()) + "abcxyzWOODS 李"


@given(st.text(alphabet=ALPHABET, max_size=30))
def test_sql_and_python_fold_alike(text):
    con = duckdb.connect()
    sql = con.execute(f"SELECT {fold_lookalikes_sql('$t')}", {"t": text}).fetchone()[0]
    assert sql == fold_lookalikes(text)


def test_a_name_written_with_lookalikes_is_found_and_folds_back():
    assert names_in("Dear J3nn1fer W0ods, your loan", ("Jennifer Woods",)) == ("Jennifer Woods",)
    assert fold_lookalikes("J3nn1fer W0ods") == fold_lookalikes("Jennifer Woods")
    assert fold_lookalikes("Woods") != fold_lookalikes("Weeds")


def test_han_matches_chinese_names_only():
    assert HAN.search("王小明") and not HAN.search("Wang Xiaoming") and not HAN.search("【】，")
