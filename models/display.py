"""Show file names and other untrusted text safely: one line, readable, no bytes that fool a terminal.
Also counts, scores and sizes as a person reads them (`1 folder`, `0.000` rather than `-0.000`, `1.7 GB`).

File names are whatever the disk holds. On POSIX a name that is not UTF-8 (Latin-1 bytes left by
old Windows or Samba copies) reaches Python as a str with lone surrogates (PEP 383), which
cannot be printed or stored as UTF-8; a name may also hold a newline (which would split an
error line in two) or a bidirectional override (which can make `gpj.exe` display as `exe.jpg`).
`printable` keeps such text in one readable line; the path itself stays as the OS gave it.
"""

from __future__ import annotations

import os
import unicodedata

# Bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) and the
# marks that reorder neighbouring text: shown as escapes, never obeyed.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` as one line of valid UTF-8: undecodable bytes as `\\xe9`, control and bidi characters
    as escapes (`\\n`, `\\x1b`, `\\u202e`); everything else, accents and scripts included, as is."""
    if text.isprintable() and text.isascii():
        return text  # the common case, fast
    return "".join(_escape(char) for char in text)


def printable_path(path: str | os.PathLike | bytes) -> str:
    """A path as `printable` text (bytes paths are decoded as the OS would)."""
    return printable(os.fsdecode(os.fspath(path)))


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    """`1 folder`, `2 folders`, `0 folders`; `plural_word` for irregular ones (`1 copy`, `3 copies`)."""
    return f"{count} {word if count == 1 else plural_word or word + 's'}"


def fixed(value: float, digits: int) -> str:
    """`value` with `digits` decimals, never `-0.000`: a score of -0.0001 rounds to zero, not below it."""
    return f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0 turns -0.0 into 0.0


def file_size(count: int) -> str:
    """Bytes as a person reads them, in decimal units as disks and the model hub quote them:
    `950 kB`, `609 MB`, `1.7 GB`, `12 GB` (at least `1 kB`)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{max(1, round(count / 1e3))} kB"


def rough_duration(seconds: float) -> str:
    """An estimate as a person reads it: `40 s`, `12 min`, `3.5 h`, `2.1 days` (two figures at most)."""
    for unit, scale in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= scale * (2 if unit == "days" else 1):
            value = seconds / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{max(1, round(seconds))} s"


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, smuggled by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char in _NAMED:
        return _NAMED[char]
    if char in _BIDI or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    if unicodedata.category(char) in ("Cc", "Cf") and char not in "\u200d":  # keep ZWJ: emoji sequences
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char
