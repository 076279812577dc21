"""CPU cost of one liveness decision, against one plain face_recognition.face_encodings call.

Run from the repository root:  .venv/bin/python bench/liveness.py [runs]

CPU time (time.process_time), median of a few runs, single process. It prints; it never asserts.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import face_recognition  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.testdata import HAVE_TESTDATA, TESTDATA, face, load_sequence  # noqa: E402
from webapp.proofing import engine, rules  # noqa: E402

PLAN = rules.ChallengePlan(colours=("red", "yellow", "blue", "green"), frames_per_colour=4)


def cpu(fn, runs: int) -> tuple[float, object]:
    """Median CPU seconds of ``fn()`` over ``runs`` runs, and its last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return statistics.median(times), result


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not HAVE_TESTDATA:
        print(f"test data not found at {TESTDATA}; set SUISHEN_TESTDATA")
        return
    raw = load_sequence("genuine_blink_meds_s001")
    reference = engine.encode_portrait(face("meds-aa-S001-02.jpg"))
    blink_match = rules.Policy.from_setting("blink,match")

    decode_s, frames = cpu(lambda: [engine.decode_frame(data) for data in raw], runs)
    colour = [engine.decode_frame(data) for data in load_sequence("colour_flash_tinted")]
    frames_320 = [np.asarray(Image.fromarray(f).resize((320, 240), Image.Resampling.BILINEAR)) for f in frames]
    h, w = frames[0].shape[:2]
    print(f"frames {w}x{h}; median of {runs} runs; CPU time (time.process_time)")

    one_encoding, _ = cpu(lambda: face_recognition.face_encodings(frames[0]), runs)
    print(f"baseline: face_recognition.face_encodings on one {w}x{h} frame: {one_encoding * 1000:7.1f} ms")
    print(f"decode_frame: {decode_s / len(raw) * 1000:.1f} ms per JPEG frame")
    print()
    print(f"{'case':<58}{'frames':>7}{'CPU ms':>9}{'x encodings':>13}   breakdown (wall ms)")
    cases = [
        ("blink,match; 10 frames 640x480 (frames 5-14, one blink)", frames[4:14], [], blink_match),
        ("blink,match; 24 frames 640x480 (one blink)", frames[:24], [], blink_match),
        ("blink,match; full genuine sequence 640x480", frames, [], blink_match),
        ("blink,match; full genuine sequence 320x240", frames_320, [], blink_match),
        ("blink,colour,match; 20 blink + 16 colour, 640x480", frames[:20], colour, rules.DEFAULT_POLICY),
    ]
    for label, blink, flash, policy in cases:
        seconds, decision = cpu(lambda: engine.decide(blink, flash, PLAN, reference, policy), runs)
        breakdown = ", ".join(f"{k} {v:.0f}" for k, v in decision.scores["timings_ms"].items())
        verdict = "pass" if decision.passed else decision.reason
        print(f"{label:<58}{len(blink) + len(flash):>7}{seconds * 1000:>9.0f}{seconds / one_encoding:>13.1f}"
              f"   {breakdown}; {verdict}")


if __name__ == "__main__":
    main()
