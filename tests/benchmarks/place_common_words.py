"""Writes models/data/place_common_words.txt: place names that are also everyday English words.

A name counts as an everyday word when WordNet 3.0 lists it in lower case ("nice", "reading",
"bath", "split", "turkey"; "Paris" and "Porto" it lists capitalised only) or when it is one of the
English function words below ("of", "as", "is", which WordNet leaves out). Only single-word names
of the gazetteer are kept. Needs Debian's `wordnet-base` (/usr/share/wordnet):

    PYTHONPATH=$PWD python tests/benchmarks/place_common_words.py
"""

from __future__ import annotations

import re
from pathlib import Path

from models.place_names import _names

WORDNET = Path("/usr/share/wordnet")
OUT = Path(__file__).resolve().parents[2] / "models" / "data" / "place_common_words.txt"
FUNCTION_WORDS = """a about above after again against all am an and any are as at be because been before
being below between both but by can did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its just me more most my no nor not now of
off on once only or other our out over own same she should so some such than that the their them then
there these they this those through to too under until up very was we were what when where which while
who whom why will with you your""".split()


def lowercase_lemmas() -> set[str]:
    words = set()
    for data in WORDNET.glob("data.*"):
        for line in data.read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the licence header
                continue
            parts = line.split()
            for index in range(int(parts[3], 16)):
                word = re.sub(r"\(.*\)$", "", parts[4 + 2 * index])  # "nice(a)" -> "nice"
                if word.isalpha() and word.islower():
                    words.add(word)
    return words


def main() -> None:
    countries, regions, cities = _names()
    single = {key for table in (countries, regions, cities) for key in table if " " not in key}
    common = sorted(single & (lowercase_lemmas() | set(FUNCTION_WORDS)))
    OUT.write_text("\n".join(common) + "\n", encoding="utf-8")
    print(f"{len(common)} of {len(single)} single-word place names are everyday words -> {OUT}")


if __name__ == "__main__":
    main()
