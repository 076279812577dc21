"""CPU cost of one liveness decision, against one plain face_recognition.face_encodings call, in one run.

Run from the repository root:  .venv/bin/python bench/liveness.py [runs]

Prints, all measured in this process and run: one ``face_recognition.face_encodings`` call (the yardstick:
detection with one upsample plus one encoding), one detection, decisions in-process on genuine and attack
sequences with their ratio to the yardstick (goal: <= 2), and what the web worker's header check
(``engine.inspect_frame``) costs on issue 13's crafted body of 48 one-bit 4096x3072 PNGs (goal: <= 50 ms),
generated here, never stored. CPU time (time.process_time), median of a few runs, single process. It prints;
it never asserts. The cost through gunicorn is measured by bench/liveness_endpoint.py.
"""
from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import face_recognition  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests import liveness_data  # noqa: E402
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


def crafted_body(count: int = 48, size: tuple[int, int] = (4096, 3072)) -> list[bytes]:
    """Issue 13's attack: ``count`` one-bit PNGs of ``size`` (~1.5 KB each, ~0.6 GB once decoded to RGB)."""
    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, "PNG")
    return [buffer.getvalue()] * count


def refuse_all(body: list[bytes]) -> int:
    refused = 0
    for data in body:
        try:
            engine.inspect_frame(data)
        except engine.BadFrame:
            refused += 1
    return refused


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if not HAVE_TESTDATA:
        print(f"test data not found at {TESTDATA}; set SUISHEN_TESTDATA")
        return
    raw = load_sequence("genuine_blink_meds_s001")
    reference = engine.encode_portrait(face("meds-aa-S001-02.jpg"))
    obama = engine.encode_portrait(face("obama.jpg"))
    blink_match = rules.Policy.from_setting("blink,match")
    engine.warm_up()

    decode_s, frames = cpu(lambda: [engine.decode_frame(data) for data in raw], runs)
    inspect_s, _ = cpu(lambda: [engine.inspect_frame(data) for data in raw], runs)
    # A generated genuine session (tests/liveness_data.py: head turn, screen light, capture times) for the default.
    live = liveness_data.cached_sample("still", "s001", 1)
    live_blink = [engine.decode_frame(data) for data in live.blink]
    live_colour = [engine.decode_frame(data) for data in live.colour]
    frames_320 = [np.asarray(Image.fromarray(f).resize((320, 240), Image.Resampling.BILINEAR)) for f in frames]
    attack_names = ("static_photo_meds_s001", "static_photo_obama", "no_blink_video", "wrong_person_blink")
    attacks = {name: [engine.decode_frame(data) for data in load_sequence(name)] for name in attack_names}
    h, w = frames[0].shape[:2]
    print(f"frames {w}x{h}; median of {runs} runs; CPU time (time.process_time)")

    one_encoding, _ = cpu(lambda: face_recognition.face_encodings(frames[0]), runs)
    detect_1, _ = cpu(lambda: face_recognition.face_locations(frames[0], number_of_times_to_upsample=1), runs)
    detect_0, _ = cpu(lambda: face_recognition.face_locations(frames[0], number_of_times_to_upsample=0), runs)
    print(f"yardstick: face_recognition.face_encodings on one {w}x{h} frame: {one_encoding * 1000:7.1f} ms")
    print(f"one detection (face_locations) on one {w}x{h} frame: upsample 1 {detect_1 * 1000:.1f} ms, "
          f"upsample 0 {detect_0 * 1000:.1f} ms")
    print(f"decode_frame: {decode_s / len(raw) * 1000:.2f} ms per JPEG frame; "
          f"inspect_frame: {inspect_s / len(raw) * 1000:.3f} ms per JPEG frame")

    body = crafted_body()
    refuse_s, refused = cpu(lambda: refuse_all(body), runs)
    one = body[0]
    old_decode_s, _ = cpu(lambda: Image.open(io.BytesIO(one)).convert("RGB").resize((640, 480)), 1)
    print(f"crafted body: {len(body)} one-bit 4096x3072 PNGs, {sum(map(len, body)) / 1024:.0f} KB: "
          f"inspect_frame refuses {refused}/{len(body)} in {refuse_s * 1000:.2f} ms CPU (goal <= 50 ms); "
          f"decoding one of them as the old limits allowed: {old_decode_s * 1000:.0f} ms")
    print()
    print(f"{'case':<58}{'frames':>7}{'CPU ms':>9}{'x encodings':>13}   breakdown (wall ms)")
    cases = [
        ("blink,match; 10 frames 640x480 (frames 5-14, one blink)", frames[4:14], [], blink_match, reference),
        ("blink,match; 24 frames 640x480 (one blink)", frames[:24], [], blink_match, reference),
        ("blink,match; full genuine sequence 640x480", frames, [], blink_match, reference),
        ("blink,match; full genuine sequence 320x240", frames_320, [], blink_match, reference),
        ("default checks; generated genuine, 28 + 16 colour frames", live_blink, live_colour, rules.DEFAULT_POLICY,
         reference),
        ("attack: printed photo S001 (15 frames)", attacks["static_photo_meds_s001"], [], blink_match, reference),
        ("attack: printed photo obama (15 frames)", attacks["static_photo_obama"], [], blink_match, obama),
        ("attack: replayed video, no blink (40 frames)", attacks["no_blink_video"], [], blink_match, reference),
        ("attack: another person blinking (40 frames)", attacks["wrong_person_blink"], [], blink_match, reference),
        ("attack: face swapped mid-session (24 frames)",
         frames[:8] + attacks["wrong_person_blink"][8:16] + frames[16:24], [], blink_match, reference),
    ]
    for label, blink, flash, policy, ref in cases:
        plan, timeline = (live.plan, live.timeline()) if flash else (PLAN, None)
        seconds, decision = cpu(lambda b=blink, f=flash, p=plan, r=ref, po=policy, t=timeline:
                                engine.decide(b, f, p, r, po, t), runs)
        breakdown = ", ".join(f"{k} {v:.0f}" for k, v in decision.scores["timings_ms"].items())
        verdict = "pass" if decision.passed else decision.reason
        print(f"{label:<58}{len(blink) + len(flash):>7}{seconds * 1000:>9.0f}{seconds / one_encoding:>13.1f}"
              f"   {breakdown}; {verdict}; encoded {decision.scores.get('encoded_frames')}")


if __name__ == "__main__":
    main()
