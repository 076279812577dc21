"""Evaluate 实人核验 ISO/IEC 30107-3 style: APCER per attack species, BPCER per genuine condition, with counts.

Run from the repository root:  .venv/bin/python bench/liveness_eval.py [--per-half N] [--tune-only] [--shared]

Sessions come from ``tests/liveness_data.py`` (generated from the photos of ``shared/testdata``, cached outside the
repository): genuine users in five conditions and one attack per species, for three identities. Index parity
splits them: even indices are the **training half**, on which each check's threshold is tuned (this script prints
the ranges and a suggested threshold; the named settings live in ``webapp/proofing/rules.py``), odd indices the
**held-out half**, on which the rates are measured with the thresholds of ``rules.py`` and the default checks
(``rules.DEFAULT_CHECKS_SETTING``).

* BPCER (per genuine condition): genuine sessions refused, for any reason.
* APCER (per attack species): attack sessions accepted end to end (the face match included: an attacker presents
  the victim's face; for ``another_person`` and ``face_swap`` the match is part of what must stop them).
* Which check stops each species: the share of its held-out sessions each check would refuse on its own.
* ``capable_injector`` is reported apart: it is the genuine generator's own output sent by a script, which no
  check here can tell from a camera (docs/liveness.md).

``--shared`` adds the older evaluation on the fixed sequences of ``shared/testdata`` (blink and match only, as a
fake camera runs). It prints; it never asserts.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tests import liveness_data as data  # noqa: E402
from tests.testdata import HAVE_TESTDATA, TESTDATA, face, fixture, load_sequence  # noqa: E402
from webapp.proofing import engine, rules  # noqa: E402

DEFAULT = rules.Policy.from_setting(rules.DEFAULT_CHECKS_SETTING)

#: Each check: the score it reads, whether genuine sessions sit above (True) or below the threshold, its rules
#: setting, and the attack species it is meant to stop (tuning looks at those).
TUNED = {
    "turn": ("turn_shift", True, "TURN_MIN_YAW", ("printed_photo", "screen_photo", "animated_still",
                                                  "animated_still_close", "uniform_tint")),
    "depth": ("depth_residual", True, "DEPTH_MIN_RESIDUAL", ("printed_photo", "screen_photo", "animated_still",
                                                             "animated_still_close", "uniform_tint")),
    "colour correlation": ("colour_correlation", True, "COLOUR_MIN_CORRELATION", ("replay_video",)),
    "colour amplitude": ("colour_amplitude", True, "COLOUR_MIN_AMPLITUDE", ("screen_photo", "face_swap")),
    "light onset": ("light_onset", False, "LIGHT_MAX_ONSET", ("early_tint",)),
    "light background": ("light_background_ratio", False, "LIGHT_MAX_BACKGROUND_RATIO", ("uniform_tint",
                                                                                          "printed_photo")),
    "light eyes": ("light_eye_correlation", True, "LIGHT_MIN_EYE_CORRELATION", ("animated_still_close",)),
    "eye catch light": ("light_eye_ratio", True, None, ("animated_still_close",)),
}

#: What each check refuses on its own, from the scores (for the "which check stops it" table).
def refusals(d: engine.Decision, plan: rules.ChallengePlan) -> dict[str, bool]:
    s = d.scores
    p = DEFAULT
    onset = s.get("light_onset")
    background = s.get("light_background_ratio")
    eyes = s.get("light_eye_correlation")
    timing = "flash_timing" not in s and "colour_correlation" in s
    return {
        "faces": d.reason in (rules.NO_FACE, rules.SEVERAL_FACES, rules.TOO_DARK, rules.BAD_FRAME),
        "same person": s.get("same_person_max_distance", 0) > p.same_person_tolerance,
        "blink": s.get("blinks", 0) < plan.blinks,
        "turn": s.get("turn_shift", 0) < p.turn_min_yaw,
        "depth": s.get("depth_residual", 0) < p.depth_min_residual,
        "timing": not timing,
        "colour": timing and not rules.colour_passes(s["colour_correlation"], s["colour_amplitude"], p),
        "reflection": timing and not rules.light_passes(onset if onset is not None else float("inf"),
                                                        background, eyes, p),
        "match": s.get("match_distance") is None or s["match_distance"] > p.tolerance,
    }


def decide(sample: data.Sample, portraits: dict[str, np.ndarray]) -> engine.Decision:
    blink = [engine.decode_frame(b) for b in sample.blink]
    colour = [engine.decode_frame(b) for b in sample.colour]
    return engine.decide(blink, colour, sample.plan, portraits[sample.portrait], DEFAULT, sample.timeline())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-half", type=int, default=4, help="sessions per kind, identity and half")
    parser.add_argument("--tune-only", action="store_true")
    parser.add_argument("--shared", action="store_true", help="also the fixed shared sequences (blink, match)")
    args = parser.parse_args()
    if not HAVE_TESTDATA:
        print(f"test data not found at {TESTDATA}; set SUISHEN_TESTDATA")
        return
    started = time.perf_counter()
    portraits = {name: engine.encode_portrait(face(name)) for name in set(data.PORTRAITS.values())}
    kinds = data.GENUINE + data.ATTACKS + data.CAPABLE
    halves = {"train": range(0, 2 * args.per_half, 2), "test": range(1, 2 * args.per_half, 2)}
    if args.tune_only:
        halves.pop("test")
    rows: list[tuple[data.Sample, engine.Decision]] = []
    for indices in halves.values():
        for kind in kinds:
            for identity in data.IDENTITIES:
                for index in indices:
                    sample = data.cached_sample(kind, identity, index)
                    rows.append((sample, decide(sample, portraits)))
    print(f"sessions: {len(rows)} ({args.per_half} per kind, identity and half; kinds {len(kinds)}, identities "
          f"{len(data.IDENTITIES)}); generator v{data.VERSION}, cache {data.cache_dir()}")
    print(f"default checks: {rules.DEFAULT_CHECKS_SETTING}")

    # --- tuning on the training half ---
    print()
    print("=== Training half: each check's score, genuine vs the attacks it targets (tune the rules setting) ===")
    train = [(s, d) for s, d in rows if s.half == "train"]
    for check, (key, high, setting, targets) in TUNED.items():
        g = [d.scores.get(key) for s, d in train if s.genuine]
        a = [d.scores.get(key) for s, d in train if s.kind in targets]
        g = [v for v in g if v is not None]
        a = [v for v in a if v is not None]
        current = getattr(rules, setting) if setting else "(a score, not enforced)"
        if not g:
            print(f"{check:<20} no genuine score")
            continue
        worst_genuine = min(g) if high else max(g)
        beyond = [v for v in a if (v < worst_genuine if high else v > worst_genuine)]
        best_attack = (max(beyond) if high else min(beyond)) if beyond else None
        suggestion = (worst_genuine + best_attack) / 2 if best_attack is not None else None
        print(f"{check:<20} {key:<24} genuine {min(g):.3f}..{max(g):.3f} (n={len(g)}); targeted attacks "
              f"{(min(a) if a else float('nan')):.3f}..{(max(a) if a else float('nan')):.3f} (n={len(a)}); "
              f"separable attacks' closest {best_attack if best_attack is None else round(best_attack, 3)}; "
              f"suggested {suggestion if suggestion is None else round(suggestion, 3)}; {setting} = {current}")
    refused = [(s, d) for s, d in train if s.genuine and not d.passed]
    accepted = [(s, d) for s, d in train if s.kind in data.ATTACKS and d.passed]
    print(f"training half with the rules' thresholds: genuine refused {len(refused)}/"
          f"{sum(s.genuine for s, _ in train)} {[(s.kind, s.identity, s.index, d.reason) for s, d in refused]}; "
          f"attacks accepted {len(accepted)}/{sum(s.kind in data.ATTACKS for s, _ in train)}")
    if args.tune_only:
        report(train, "training half")
        return
    report([(s, d) for s, d in rows if s.half == "test"], "held-out half")
    if args.shared:
        shared(portraits)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


def report(rows: list[tuple[data.Sample, engine.Decision]], label: str) -> None:
    print()
    print(f"=== {label}: default checks, thresholds of rules.py ===")
    print("BPCER per genuine condition (genuine refused):")
    total_g = total_gr = 0
    for kind in data.GENUINE:
        got = [(s, d) for s, d in rows if s.kind == kind]
        refused = [(s, d) for s, d in got if not d.passed]
        total_g += len(got)
        total_gr += len(refused)
        reasons = Counter(d.reason for _, d in refused)
        print(f"  {kind:<16} {len(refused):>3}/{len(got):<3} = {100 * len(refused) / max(len(got), 1):5.1f} %"
              f"   {dict(reasons) if reasons else ''}")
    print(f"  {'all genuine':<16} {total_gr:>3}/{total_g:<3} = {100 * total_gr / max(total_g, 1):5.1f} %")
    print("APCER per attack species (attack accepted end to end):")
    checks = list(refusals(rows[0][1], rows[0][0].plan))
    stops = {}
    for kind in data.ATTACKS + data.CAPABLE:
        got = [(s, d) for s, d in rows if s.kind == kind]
        accepted = [(s, d) for s, d in got if d.passed]
        reasons = Counter(d.reason for _, d in got if not d.passed)
        note = "   (beyond a browser: see docs/liveness.md)" if kind in data.CAPABLE else ""
        print(f"  {kind:<16} {len(accepted):>3}/{len(got):<3} = {100 * len(accepted) / max(len(got), 1):5.1f} %"
              f"   first failing check: {dict(reasons)}{note}")
        stops[kind] = {c: sum(refusals(d, s.plan)[c] for s, d in got) / max(len(got), 1) for c in checks}
    print("Which check refuses each species on its own (share of its sessions):")
    print(f"  {'species':<16}" + "".join(f"{c:>12}" for c in checks))
    for kind, shares in stops.items():
        print(f"  {kind:<16}" + "".join(f"{100 * v:>11.0f}%" for v in shares.values()))
    genuine = [(s, d) for s, d in rows if s.genuine]
    gshare = {c: sum(refusals(d, s.plan)[c] for s, d in genuine) / max(len(genuine), 1) for c in checks}
    print(f"  {'(genuine)':<16}" + "".join(f"{100 * v:>11.0f}%" for v in gshare.values()))
    cpu = [d.scores["cpu_ms"] for _, d in rows]
    print(f"CPU per decision: median {statistics.median(cpu):.0f} ms, max {max(cpu):.0f} ms "
          f"({len(rows)} decisions; ~44 frames each)")


# --- The fixed shared sequences (blink, match: what a fake camera can serve) ------------------------------------
def shared(portraits: dict[str, np.ndarray]) -> None:
    plan = rules.ChallengePlan(colours=("red", "yellow", "blue", "green"))
    policy = rules.Policy.from_setting("blink,match")
    for name in ("meds-aa-S001-03.jpg", "obama2.jpg"):
        portraits.setdefault(name, engine.encode_portrait(face(name)))
    cases = {"genuine": {"genuine_blink_meds_s001": "meds-aa-S001-02.jpg", "genuine_blink_obama": "obama.jpg"},
             "printed photo": {"static_photo_meds_s001": "meds-aa-S001-02.jpg",
                               "static_photo_obama": "obama.jpg"},
             "replay video, no blink": {"no_blink_video": "meds-aa-S001-02.jpg"},
             "wrong person": {"wrong_person_blink": "meds-aa-S001-02.jpg"}}
    print()
    print("=== Shared fixed sequences, policy blink,match (a fake camera), 20-frame windows ===")
    margins: dict[str, list[float]] = {}
    for group, sequences in cases.items():
        tried = accepted = 0
        for name, portrait in sequences.items():
            frames = [engine.decode_frame(b) for b in load_sequence(name)]
            small = [engine.decode_frame(_jpeg(np.asarray(Image.fromarray(f).resize((320, 240))))) for f in frames]
            levels = fixture(name).get("levels") or []
            size = 20 if len(frames) >= 30 else rules.MIN_FRAMES
            for start in range(0, len(frames) - size + 1, 2):
                window = levels[start:start + size]
                if group == "genuine" and not any(
                        v >= 1.0 and 0.0 in window[:j] and 0.0 in window[j + 1:] for j, v in enumerate(window)):
                    continue  # no complete blink in the window: refusing it is right
                for frames_at in (frames, small):
                    d = engine.decide(frames_at[start:start + size], [], plan, portraits[portrait], policy)
                    tried += 1
                    accepted += d.passed
                    margins.setdefault(group, []).append(d.scores["ear_min_ratio"])
        rate = "BPCER" if group == "genuine" else "accepted"
        shown = tried - accepted if group == "genuine" else accepted
        print(f"  {group:<24} {rate} {shown}/{tried}   EAR minimum / baseline {min(margins[group]):.2f}.."
              f"{max(margins[group]):.2f}")
    attacks = margins["printed photo"] + margins["replay video, no blink"]
    print(f"  blink margins (640 and 320 px): genuine deepest {max(margins['genuine']):.2f} "
          f"({rules.BLINK_CLOSED_RATIO - max(margins['genuine']):+.2f}), attacks shallowest {min(attacks):.2f} "
          f"({min(attacks) - rules.BLINK_CLOSED_RATIO:+.2f}) against {rules.BLINK_CLOSED_RATIO}")


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
