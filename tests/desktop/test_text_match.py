"""Printed-text matching as SQLite FTS5 runs it: what a search asks of the words in a photo."""

import sqlite3

import pytest

from desktop.core.text_match import FTS_TOKENIZER, fts_query, quoted_parts, spaced, words

PRINTED = {
    1: "HARVEST MARKET\nSaturday 9-14 Town Square",
    2: "Corner Shop\nMilk 1.20\nBread 2.10\nTOTAL 8.40\nThank you",
    3: "EXIT",
    4: "No exit for trucks",
    5: "東京駅 丸の内北口",
    6: "Café Müller",
    7: "",
}


@pytest.fixture()
def printed():
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{FTS_TOKENIZER}')")
    db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", [(k, spaced(v)) for k, v in PRINTED.items()])
    yield lambda query: sorted(r for (r,) in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts_query(query),)))
    db.close()


def test_every_unquoted_word_must_be_printed_in_any_order(printed):
    assert printed("harvest market") == [1]
    assert printed("market harvest") == [1]
    assert printed("harvest fair") == []


def test_a_price_matches_across_its_decimal_point(printed):
    assert printed("total 8.40") == [2]
    assert printed("total 8.41") == []


def test_case_and_accents_do_not_matter(printed):
    assert printed("cafe muller") == [6]
    assert printed("CAFÉ") == [6]


def test_quoted_text_is_an_exact_phrase(printed):
    assert printed('"exit"') == [3, 4]
    assert printed('"no exit"') == [4]
    assert printed('"exit no"') == []


def test_chinese_and_japanese_words_match_without_spaces(printed):
    assert printed("東京") == [5]
    assert printed("北口") == [5]
    assert printed("京都") == []


def test_words_that_describe_a_picture_are_not_required_as_printed_text(printed):
    assert printed("a photo of the harvest market") == [1]
    assert fts_query("a photo of the") is None
    assert fts_query("") is None
    assert fts_query('""') is None


def test_operators_typed_by_a_user_are_plain_words():
    assert fts_query("cats NOT dogs") == '"cats" AND "not" AND "dogs"'
    assert fts_query('NEAR(x y) "a*b"') == '"a b" AND "near" AND "x" AND "y"'


def test_quoted_parts_and_tokens():
    assert quoted_parts('the "exit" sign "" ') == ["exit"]
    assert words("TOTAL 8.40") == ["total", "8", "40"]
