"""Benchmark: how fast the text reader goes through a mixed library, how many photos its gate skips, what it reads.

The library (tests/text_photos.py, made from scikit-image's real photos): photos with no text, the
same photos carrying signs in several fonts, sizes and turns (0/90/180 degrees), snapped receipts
and screenshots. Photos are split in halves by index (even: dev, odd: test). On dev, with no
threshold at all, every photo is read whole and its gate score taken; the gate's threshold (the
highest that lets every dev text photo through) and the line confidence (best word F1: words of
the text photos found vs words read on photos without text) are chosen there. Reported on the test
half only: photos/s of the whole pipeline on every photo (rapidocr's defaults, gate=False) and of
the gated reader (measured end to end, GATE_SCORE and MIN_LINE_SCORE set to the dev choice), the
share of photos the gate skips, text photos it loses, word recall and junk words on text-free photos.
Timings are wall clock on whatever cores ONNX Runtime gets: on a shared machine they are noisy, so
compare the ratio within one run. Writes results/ocr_throughput.json.

    PYTHONPATH=$PWD python tests/benchmarks/ocr_throughput.py [--size 1024x768] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the packages, and tests/ for text_photos

from image_zoo import scene  # noqa: E402
from text_photos import LATIN_FONTS, NO_TEXT_PHOTOS, cjk_font_file, receipt, screenshot, sign_photo, words_of  # noqa: E402

from desktop.core import ocr  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ocr_throughput.json"
GATE_GRID = tuple(round(float(t), 2) for t in np.arange(0.50, 0.951, 0.05))  # gate thresholds tried on dev
GATE_MARGIN = 0.05  # one grid step below the weakest dev text photo: test photos vary as much
LINE_GRID = tuple(round(float(t), 2) for t in np.arange(0.30, 0.951, 0.05))  # line confidences tried on dev
SIGNS = (  # words, font size in pixels at 1024 px wide, turn in degrees
    ("OPEN DAILY 9-17", 40, 0), ("PARKING EXIT", 34, 90), ("NO ENTRY", 44, 180), ("HARBOUR VIEW HOTEL", 30, 0),
    ("SALE 50% OFF", 48, 0), ("PLATFORM 4", 28, 0), ("FRESH BREAD DAILY", 22, 0), ("KEEP LEFT", 36, 90),
    ("MUSEUM OF MODERN ART", 26, 0), ("CLOSED ON MONDAYS", 20, 180), ("WELCOME TO OSLO", 38, 0), ("BUS STOP 42", 32, 0),
)
RECEIPTS = (
    ("CAFE ROMA", "2 ESPRESSO 5.20", "1 CROISSANT 3.20", "TOTAL 8.40"),
    ("CORNER MARKET", "MILK 1.19", "BREAD 2.49", "APPLES 3.10", "TOTAL 6.78"),
    ("CITY PARKING", "ENTRY 08:12", "EXIT 17:40", "AMOUNT 12.00"),
    ("BOOKSHOP", "NOVEL 14.99", "MAP 7.50", "TOTAL 22.49"),
)
SCREENSHOTS = (
    ("Invoices - Mail", "File  Edit  View  Help", ("Invoice 2024-031 paid", "Meeting moved to Friday")),
    ("Settings", "General  Privacy  Network", ("Backup every night", "Last backup completed")),
    ("Photos - Library", "Albums  People  Places", ("Summer holiday 2023", "Birthday party")),
    ("Terminal", "Shell  Edit  View", ("build finished in 42 seconds", "all tests passed")),
)


def library(size: tuple[int, int]) -> list[dict]:
    """Each photo: its picture, its kind and the text it carries ("" for none)."""
    photos = [{"kind": "no_text", "name": name, "picture": scene(name, size), "text": ""} for name in NO_TEXT_PHOTOS]
    scale = size[0] / 1024
    for index, (words, points, angle) in enumerate(SIGNS):
        base, font_name = NO_TEXT_PHOTOS[index % len(NO_TEXT_PHOTOS)], LATIN_FONTS[index % len(LATIN_FONTS)]
        at = (0.3 + 0.4 * (index % 3) / 2, 0.25 + 0.5 * (index % 2))
        picture = sign_photo(base, words, font_name, max(10, round(points * scale)), size, angle, at)
        photos.append({"kind": "sign", "name": f"sign:{words}", "picture": picture, "text": words})
    if cjk_font_file():
        for index, words in enumerate(("東京駅 出口", "营业时间 九点", "北京大学 图书馆", "喫茶店 営業中")):
            picture = sign_photo(NO_TEXT_PHOTOS[-1 - index], words, cjk_font_file(), round(40 * scale), size)
            photos.append({"kind": "cjk_sign", "name": f"cjk:{words}", "picture": picture, "text": words})
    for index, lines in enumerate(RECEIPTS):
        base = NO_TEXT_PHOTOS[(index * 5) % len(NO_TEXT_PHOTOS)]
        photos.append({"kind": "receipt", "name": f"receipt:{lines[0]}", "picture": receipt(lines, base), "text": " ".join(lines)})
    for title, menu, body in SCREENSHOTS:
        photos.append({"kind": "screenshot", "name": f"screenshot:{title}", "picture": screenshot(title, menu, body, size),
                       "text": " ".join((title, menu) + body)})
    return photos


def _timed(call, *args):
    start = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - start


def measure_all(reader: ocr.TextReader, photos: list[dict]) -> None:
    """The whole pipeline on every photo (no gate, no line threshold) and the gate's score, timed apart."""
    for photo in photos:
        photo["gate_score"], photo["gate_s"] = _timed(reader.gate_score, photo["picture"])
        lines, photo["full_s"] = _timed(reader.read, photo["picture"])
        photo["lines"] = [(line.text, line.score) for line in lines]


def words_read(lines: list[tuple[str, float]], min_score: float) -> set[str]:
    return words_of(" ".join(text for text, score in lines if score >= min_score))


def word_counts(photos: list[dict], min_score: float, passed=lambda photo: True) -> dict:
    """Recall of the text photos' words, and words 'read' on photos without text."""
    truth = found = junk = 0
    for photo in photos:
        seen = words_read(photo["lines"], min_score) if passed(photo) else set()
        if photo["text"]:
            truth += len(words_of(photo["text"]))
            found += len(words_of(photo["text"]) & seen)
        else:
            junk += len(seen)
    return {"words": truth, "found": found, "recall": round(found / max(truth, 1), 3), "junk_words": junk}


def choose_gate(dev: list[dict]) -> float:
    """The highest threshold every dev text photo passes with a grid step to spare (losing a text photo loses all its words)."""
    weakest = min(photo["gate_score"] for photo in dev if photo["text"])
    return max([t for t in GATE_GRID if t <= weakest - GATE_MARGIN], default=GATE_GRID[0])


def choose_line_score(dev: list[dict]) -> float:
    """The line confidence with the best word F1 on dev (precision counts junk on text-free photos)."""
    def f1(threshold: float) -> float:
        counts = word_counts(dev, threshold)
        precision = counts["found"] / max(counts["found"] + counts["junk_words"], 1)
        return 2 * precision * counts["recall"] / max(precision + counts["recall"], 1e-9)
    return max(LINE_GRID, key=lambda t: (round(f1(t), 4), -t))  # ties: the lower threshold keeps more text


def gated_run(photos: list[dict], threads: int | None) -> dict:
    """The real gated reader, end to end, on the test half (the chosen thresholds set as its constants)."""
    reader = ocr.TextReader(threads=threads)
    reader.read(photos[0]["picture"])  # load the models before the clock starts
    start = time.perf_counter()
    for photo in photos:
        photo["gated_lines"] = [(line.text, line.score) for line in reader.read(photo["picture"])]
    seconds = time.perf_counter() - start
    found = sum(len(words_of(p["text"]) & words_read(p["gated_lines"], 0.0)) for p in photos if p["text"])
    truth = sum(len(words_of(p["text"])) for p in photos if p["text"])
    junk = sum(len(words_read(p["gated_lines"], 0.0)) for p in photos if not p["text"])
    return {"photos_per_s": round(len(photos) / seconds, 3), "seconds": round(seconds, 1),
            "word_recall": round(found / max(truth, 1), 3), "junk_words": junk}


def _projection(test: list[dict], gate_score: float) -> dict:
    """Photos/s with the gate for libraries where a share of photos hold text, from this run's mean costs:
    every photo costs the gate; text photos, and the text-free ones the gate lets through (at this run's
    rate), also the whole pipeline. Without the gate every photo costs the pipeline."""
    gate = float(np.mean([p["gate_s"] for p in test]))
    full = float(np.mean([p["full_s"] for p in test]))
    text_free = [p for p in test if not p["text"]]
    let_through = sum(p["gate_score"] >= gate_score for p in text_free) / max(len(text_free), 1)
    rows = {f"{share:.0%}": round(1 / (gate + (share + (1 - share) * let_through) * full), 3) for share in (0.05, 0.1, 0.25, 0.5)}
    return {"without_gate": round(1 / full, 3), **rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1024x768", help="photo size WxH (rapidocr reads at most 2000 px on the long side)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads per model (default: all cores)")
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    photos = library(size)
    dev, test = photos[0::2], photos[1::2]
    chosen_gate, chosen_line = ocr.GATE_SCORE, ocr.MIN_LINE_SCORE
    ocr.MIN_LINE_SCORE = 0.0  # measure_all keeps every line; thresholds are applied afterwards
    reader = ocr.TextReader(threads=args.threads, gate=False)
    reader.read(photos[0]["picture"])  # load the models before the clock starts
    measure_all(reader, photos)
    gate, line = choose_gate(dev), choose_line_score(dev)
    ocr.GATE_SCORE, ocr.MIN_LINE_SCORE = gate, line
    gated = gated_run(test, args.threads)
    ungated_s = sum(p["full_s"] for p in test)
    skipped = [p for p in test if p["gate_score"] < gate]
    result = {
        "machine": f"{os.cpu_count()} cores (shared with other work: timings are noisy)", "photo_size": list(size),
        "photos": {"dev": len(dev), "test": len(test), "test_with_text": sum(bool(p["text"]) for p in test)},
        "module_constants": {"GATE_SIDE": ocr.GATE_SIDE, "GATE_SCORE": chosen_gate, "MIN_LINE_SCORE": chosen_line, "FULL_SIDE": ocr.FULL_SIDE},
        "chosen_on_dev": {"gate_score": gate, "min_line_score": line,
                          "dev_gate_scores": {"text": sorted(round(p["gate_score"], 3) for p in dev if p["text"]),
                                              "no_text": sorted(round(p["gate_score"], 3) for p in dev if not p["text"])}},
        "test": {
            "without_gate": {"photos_per_s": round(len(test) / ungated_s, 3), "seconds": round(ungated_s, 1), **word_counts(test, line)},
            "with_gate": gated,
            "gate_alone_ms_per_photo": round(1000 * float(np.mean([p["gate_s"] for p in test])), 1),
            "skipped_share": round(len(skipped) / len(test), 3),
            "skipped_share_of_text_free": round(sum(not p["text"] for p in skipped) / max(sum(not p["text"] for p in test), 1), 3),
            "text_photos_lost": [p["name"] for p in skipped if p["text"]],
            "projected_photos_per_s_by_text_share": _projection(test, gate),
        },
        "per_photo": [{"name": p["name"], "half": "dev" if i % 2 == 0 else "test", "gate_score": round(p["gate_score"], 3),
                       "gate_ms": round(1000 * p["gate_s"]), "full_ms": round(1000 * p["full_s"]),
                       "read": [text for text, score in p["lines"] if score >= line]} for i, p in enumerate(photos)],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("photo_size", "photos", "chosen_on_dev", "test")}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
