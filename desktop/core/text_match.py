"""Words printed in photos, as SQLite FTS5 sees them: what is indexed, and what a query asks for.

The catalog's full-text table uses FTS5's `unicode61` tokenizer (case and diacritics folded). It
splits on anything that is not a letter or a digit, so "8.40" is the tokens 8 and 40 and the
receipt's "TOTAL 8.40" matches the query "total 8.40" as a phrase. Chinese, Japanese and Korean are
written without spaces, which would make a whole line one token: `spaced` puts a space around each
such character, at indexing and at query time alike, so a CJK word is a phrase of its characters.

A query's unquoted words all have to be printed in the photo (in any order), leaving out words
too common to mean anything on their own ("a", "of", "the", "photo of ..."); quoted text has to
be printed exactly, as those words in that order. A query with nothing left asks for no text.
"""

from __future__ import annotations

import re
import unicodedata

# The tokenizer the catalog's FTS5 table is created with (and that `words` mirrors).
FTS_TOKENIZER = "unicode61 remove_diacritics 2"

# Words of a search that describe a picture rather than name printed text: never required alone.
STOPWORDS = frozenset("""
a an and are as at be by for from has have in into is it its of on or photo photos picture pictures
image images the their this that to with without
""".split())

_QUOTED = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


def _is_cjk(char: str) -> bool:
    """Han, kana and Hangul: scripts written without spaces between words."""
    code = ord(char)
    return (0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
            or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F)


def spaced(text: str) -> str:
    """`text` with a space around each CJK character, so FTS5 sees one token a character."""
    if not any(_is_cjk(c) for c in text):
        return text
    return "".join(f" {c} " if _is_cjk(c) else c for c in text)


def words(text: str) -> list[str]:
    """The tokens FTS5 makes of `text`: lower case, diacritics removed, CJK one character each."""
    folded = unicodedata.normalize("NFKD", spaced(text).casefold())
    return _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))


def fts_query(query: str) -> str | None:
    """The FTS5 MATCH expression a search text asks for, or None when it names no printed text.

    Quoted parts become phrases; the other words, less stopwords, are each required."""
    phrases = [words(part) for part in _QUOTED.findall(query)]
    loose = [w for w in words(_QUOTED.sub(" ", query)) if w not in STOPWORDS]
    terms = [_phrase(p) for p in phrases if p] + [_phrase([w]) for w in loose]
    return " AND ".join(terms) if terms else None


def quoted_parts(query: str) -> list[str]:
    """The exact texts a query quotes ('"exit" sign' -> ['exit'])."""
    return [part for part in _QUOTED.findall(query) if words(part)]


def _phrase(tokens: list[str]) -> str:
    """An FTS5 phrase of `tokens` (double-quoted, so no token is read as an operator)."""
    return '"' + " ".join(tokens) + '"'
