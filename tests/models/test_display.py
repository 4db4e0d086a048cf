"""printable(): untrusted names shown in one safe, readable line."""

import os

from models.display import fixed, plural, printable, printable_path


def test_latin1_bytes_in_a_file_name_show_as_hex_escapes():
    name = os.fsdecode(b"/photos/caf\xe9.jpg")
    shown = printable_path(name)
    assert shown == "/photos/caf\\xe9.jpg"
    shown.encode("utf-8")  # printable and storable


def test_newlines_and_bidi_overrides_are_escaped_not_obeyed():
    assert printable("a\nb.jpg") == "a\\nb.jpg"
    assert printable("photo\u202egpj.exe") == "photo\\u202egpj.exe"
    assert printable("bell\x07") == "bell\\x07"


def test_accents_scripts_and_emoji_stay_as_they_are():
    for text in ("café.jpg", "Москва.jpg", "東京.png", "👨‍👩‍👧.heic"):
        assert printable(text) == text


def test_bytes_paths_are_decoded_as_the_os_does():
    assert printable_path(b"/x/caf\xe9.jpg") == "/x/caf\\xe9.jpg"


def test_counts_of_one_are_singular_and_others_plural():
    assert [plural(n, "folder") for n in (0, 1, 2)] == ["0 folders", "1 folder", "2 folders"]
    assert plural(1, "copy", "copies") == "1 copy" and plural(3, "copy", "copies") == "3 copies"


def test_a_score_just_below_zero_prints_as_zero_not_minus_zero():
    assert fixed(-0.0001, 3) == "0.000" and fixed(-0.0, 2) == "0.00"
    assert fixed(-0.0006, 3) == "-0.001" and fixed(0.41549, 3) == "0.415"


def test_sizes_and_estimates_read_as_a_person_says_them():
    from models.display import file_size, rough_duration

    assert [file_size(n) for n in (12, 950_000, 608_800_000, 1_713_600_000, 12_400_000_000)] == [
        "1 kB", "950 kB", "609 MB", "1.7 GB", "12 GB"]
    assert [rough_duration(s) for s in (0.2, 40, 130, 7200 * 1.1, 86400 * 3)] == ["1 s", "40 s", "2.2 min", "2.2 h", "3.0 days"]
