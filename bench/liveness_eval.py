"""Evaluate the liveness engine on every shared test sequence, ISO/IEC 30107-3 style.

Run from the repository root:  .venv/bin/python bench/liveness_eval.py

Each sequence is tried several ways so the rates cover more than one attempt: all frames; sliding
windows (a real capture starts at a random point of the user's blink cycle); and every one of those at
640x480 and again downscaled to 320x240 and re-encoded as JPEG (what a browser's fake camera sends).

* BPCER: genuine presentations (a live user blinking) rejected. Windows that hold no complete blink
  (open → closed → open, from fixtures.json) are listed apart: rejecting them is correct.
* APCER per attack type: presentation attacks accepted by the liveness checks (the face match is left
  out: an attacker would present the victim's face). Printed photo = static_photo_*, replayed video
  without blink = no_blink_video; colour: replay of a recorded flash in another order, and no
  reflected light at all (untinted control).
* Wrong person (zero-effort impostor, not a PAD attack): accepted end to end.
It prints; it never asserts.
"""
from __future__ import annotations

import io
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import face_recognition  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests.testdata import HAVE_TESTDATA, TESTDATA, face, fixture, load_sequence  # noqa: E402
from webapp.proofing import engine, rules  # noqa: E402

PLAN = rules.ChallengePlan(colours=("red", "yellow", "blue", "green"), frames_per_colour=4)
BLINK_MATCH = rules.Policy.from_setting("blink,match")
COLOUR_MATCH = rules.Policy.from_setting("colour,match")
# Reasons that come from liveness (PAD) rather than from the face comparison.
PAD_REASONS = {
    rules.NO_BLINK,
    rules.NO_TURN,
    rules.COLOUR_MISMATCH,
    rules.NOT_SAME_PERSON,
    rules.SEVERAL_FACES,
    rules.NO_FACE,
    rules.TOO_DARK,
    rules.TOO_FEW_FRAMES,
    rules.BAD_FRAME,
}
PORTRAITS = ["meds-aa-S001-02.jpg", "meds-aa-S001-03.jpg", "meds-aa-S029-01.jpg", "obama.jpg", "obama2.jpg"]
GENUINE = {"genuine_blink_meds_s001": "meds-aa-S001-02.jpg", "genuine_blink_obama": "obama.jpg"}
ALT_PORTRAIT = {"genuine_blink_meds_s001": "meds-aa-S001-03.jpg", "genuine_blink_obama": "obama2.jpg"}
ATTACKS = {
    "printed photo": {"static_photo_meds_s001": "meds-aa-S001-02.jpg", "static_photo_obama": "obama.jpg"},
    "replay video, no blink": {"no_blink_video": "meds-aa-S001-02.jpg"},
}
IMPOSTOR = {"wrong_person_blink": "meds-aa-S001-02.jpg"}


def small(frames: list[np.ndarray]) -> list[np.ndarray]:
    """320x240, re-encoded as a browser would send it."""
    out = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).resize((320, 240), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=90)
        out.append(engine.decode_frame(buffer.getvalue()))
    return out


def windows(n: int) -> list[tuple[int, int]]:
    """All frames, then sliding windows (20 frames when the sequence allows, else MIN_FRAMES)."""
    size = 20 if n >= 30 else rules.MIN_FRAMES
    return [(0, n)] + [(start, start + size) for start in range(0, n - size + 1, 2)]


def has_complete_blink(levels: list[float] | None, start: int, stop: int) -> bool:
    if not levels:
        return False
    window = levels[start:stop]
    for j, level in enumerate(window):
        if level >= 1.0 and 0.0 in window[:j] and 0.0 in window[j + 1 :]:
            return True
    return False


def main() -> None:
    if not HAVE_TESTDATA:
        print(f"test data not found at {TESTDATA}; set SUISHEN_TESTDATA")
        return
    print(f"test data: {TESTDATA}")
    t0 = time.perf_counter()
    portraits = {name: engine.encode_portrait(face(name)) for name in PORTRAITS}
    decoded: dict[tuple[str, int], list[np.ndarray]] = {}

    def frames(name: str, width: int) -> list[np.ndarray]:
        if (name, 640) not in decoded:
            decoded[(name, 640)] = [engine.decode_frame(data) for data in load_sequence(name)]
        if (name, width) not in decoded:
            decoded[(name, width)] = small(decoded[(name, 640)])
        return decoded[(name, width)]

    rows = []  # (group, sequence, width, window, portrait, decision, expected_blink)

    def attempt(group: str, name: str, portrait: str, width: int, start: int, stop: int) -> None:
        seq = frames(name, width)[start:stop]
        decision = engine.decide(seq, [], PLAN, portraits[portrait], BLINK_MATCH)
        levels = fixture(name).get("levels")
        rows.append((group, name, width, f"{start:02d}-{stop:02d}", portrait, decision, has_complete_blink(levels, start, stop)))

    for name, portrait in GENUINE.items():
        for width in (640, 320):
            for start, stop in windows(len(frames(name, 640))):
                attempt("genuine", name, portrait, width, start, stop)
            attempt("genuine", name, ALT_PORTRAIT[name], width, 0, len(frames(name, 640)))
    for group, sequences in list(ATTACKS.items()) + [("wrong person", IMPOSTOR)]:
        for name, portrait in sequences.items():
            for width in (640, 320):
                for start, stop in windows(len(frames(name, 640))):
                    attempt(group, name, portrait, width, start, stop)

    print()
    print("=== Attempts (policy blink,match; tolerance %.2f; blink closed/open ratio %.2f/%.2f) ===" % (
        BLINK_MATCH.tolerance, BLINK_MATCH.blink_closed_ratio, BLINK_MATCH.blink_open_ratio))
    print(f"{'group':<24}{'sequence':<25}{'px':>4} {'frames':<6} {'portrait':<20}{'result':<17}"
          f"{'min/base':>8}{'blinks':>7}{'match':>7}{'same':>6}{'cpu ms':>8}")
    for group, name, width, window, portrait, d, blink in rows:
        s = d.scores
        result = "PASS" if d.passed else d.reason
        note = "" if group != "genuine" or blink else "  (no complete blink in window)"
        print(f"{group:<24}{name:<25}{width:>4} {window:<6} {portrait:<20}{result:<17}"
              f"{s.get('ear_min_ratio', float('nan')):>8.2f}{s.get('blinks', -1):>7}"
              f"{(s.get('match_distance') or float('nan')):>7.3f}{s.get('same_person_max_distance', float('nan')):>6.2f}"
              f"{s['cpu_ms']:>8.0f}{note}")

    # --- colour ---
    colour_rows = []
    for width in (640, 320):
        blink = frames("genuine_blink_meds_s001", width)[:12]
        for name in ("colour_flash_tinted", "colour_flash_control"):
            d = engine.decide(blink, frames(name, width), PLAN, portraits["meds-aa-S001-02.jpg"], COLOUR_MATCH)
            means = d.scores["colour_means"]
            for order in itertools.permutations(rules.COLOURS):
                shown = rules.ChallengePlan(colours=order).shown_colours()
                corr = rules.colour_correlation(means, shown)
                amp = rules.colour_amplitude(means, shown)
                colour_rows.append((name, width, order, corr, amp, rules.colour_passes(corr, amp)))

    # --- summary ---
    def pad_pass(d: engine.Decision) -> bool:
        return d.reason not in PAD_REASONS

    print()
    print("=== ISO/IEC 30107-3 summary ===")
    genuine = [r for r in rows if r[0] == "genuine" and r[6]]
    genuine_no_blink = [r for r in rows if r[0] == "genuine" and not r[6]]
    rejected = [r for r in genuine if not r[5].passed]
    print(f"BPCER (genuine with a complete blink, rejected): {len(rejected)}/{len(genuine)}"
          f" = {100 * len(rejected) / max(len(genuine), 1):.1f} %")
    for r in rejected:
        print(f"    rejected: {r[1]} {r[2]}px {r[3]} -> {r[5].reason}")
    print(f"  genuine windows holding no complete blink: {len(genuine_no_blink)}, "
          f"rejected {sum(not r[5].passed for r in genuine_no_blink)} (rejecting them is correct)")
    for group in ATTACKS:
        attacks = [r for r in rows if r[0] == group]
        accepted = [r for r in attacks if pad_pass(r[5])]
        print(f"APCER {group:<26}: {len(accepted)}/{len(attacks)} = {100 * len(accepted) / len(attacks):.1f} %"
              f"   (reasons: {sorted({r[5].reason for r in attacks})})")
    tinted_genuine = [c for c in colour_rows if c[0] == "colour_flash_tinted" and c[2] == PLAN.colours]
    replay = [c for c in colour_rows if c[0] == "colour_flash_tinted" and c[2] != PLAN.colours]
    control = [c for c in colour_rows if c[0] == "colour_flash_control"]
    print(f"Colour, genuine (tinted, order shown): passed {sum(c[5] for c in tinted_genuine)}/{len(tinted_genuine)}"
          f"  corr {', '.join(f'{c[3]:.3f}' for c in tinted_genuine)}  amplitude "
          f"{', '.join(f'{c[4]:.1f}' for c in tinted_genuine)}")
    print(f"APCER {'flash replayed, other order':<26}: {sum(c[5] for c in replay)}/{len(replay)}"
          f"   (best wrong-order corr {max(c[3] for c in replay):.3f}; a replay matches 1 plan in 24)")
    print(f"APCER {'no reflected light':<26}: {sum(c[5] for c in control)}/{len(control)}"
          f"   (best corr {max(c[3] for c in control):.3f}, best amplitude {max(c[4] for c in control):.2f})")
    impostors = [r for r in rows if r[0] == "wrong person"]
    print(f"Wrong person accepted end to end: {sum(r[5].passed for r in impostors)}/{len(impostors)}"
          f"   (PAD passed {sum(pad_pass(r[5]) for r in impostors)}/{len(impostors)}, "
          f"match distance {min(r[5].scores['match_distance'] for r in impostors):.3f}–"
          f"{max(r[5].scores['match_distance'] for r in impostors):.3f})")

    print()
    print("=== Blink margin (EAR minimum / session baseline) ===")
    g = [r[5].scores["ear_min_ratio"] for r in genuine]
    a = [r[5].scores["ear_min_ratio"] for r in rows if r[0] in ATTACKS]
    print(f"genuine with a blink: deepest frame {min(g):.2f}–{max(g):.2f}   "
          f"attacks: shallowest minimum {min(a):.2f}   threshold {rules.BLINK_CLOSED_RATIO:.2f}")
    print(f"margins: genuine {rules.BLINK_CLOSED_RATIO - max(g):+.2f}, attacks {min(a) - rules.BLINK_CLOSED_RATIO:+.2f}")
    same = [r[5].scores["same_person_max_distance"] for r in rows if "same_person_max_distance" in r[5].scores]
    print(f"same-person max distance over all attempts: {max(same):.3f} (tolerance {rules.SAME_PERSON_TOLERANCE})")

    print()
    print("=== Face-match distances (max over frames 1, middle, last) ===")
    print(f"{'':<28}" + "".join(f"{p.removesuffix('.jpg'):>17}" for p in PORTRAITS))
    for name in sorted({*GENUINE, *IMPOSTOR, "no_blink_video", "static_photo_meds_s001", "static_photo_obama"}):
        seq = frames(name, 640)
        picks = [seq[0], seq[len(seq) // 2], seq[-1]]
        encs = [face_recognition.face_encodings(f)[0] for f in picks]
        print(f"{name:<28}" + "".join(
            f"{max(np.linalg.norm(e - portraits[p]) for e in encs):>17.3f}" for p in PORTRAITS))
    for p in PORTRAITS:
        print(f"{p.removesuffix('.jpg'):<28}" + "".join(
            f"{np.linalg.norm(portraits[p] - portraits[q]):>17.3f}" for q in PORTRAITS))

    cpu = [r[5].scores["cpu_ms"] for r in rows]
    print()
    print(f"{len(rows) + len(colour_rows) // 24} decisions; CPU per decision median {statistics.median(cpu):.0f} ms, "
          f"max {max(cpu):.0f} ms; wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
