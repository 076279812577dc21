"""Pure liveness rules: EAR, blink counting, colour correlation, turn, policy and challenge plans."""
from __future__ import annotations

import itertools
import json
import random
import re
from datetime import timedelta

import pytest

from webapp.proofing import rules
from webapp.proofing.rules import ChallengePlan, Policy

# Open and closed eyes, drawn by hand: width 6, lids 2 apart when open, 0.6 when closed.
OPEN_EYE = [(0, 0), (2, -1), (4, -1), (6, 0), (4, 1), (2, 1)]
CLOSED_EYE = [(0, 0), (2, -0.3), (4, -0.3), (6, 0), (4, 0.3), (2, 0.3)]


def series(open_ear: float, *dips: float, before: int = 8, after: int = 4) -> list[float]:
    """``before`` open frames, the dip frames, ``after`` open frames."""
    return [open_ear] * before + list(dips) + [open_ear] * after


# --- EAR ---------------------------------------------------------------------------------------------
def test_ear_is_a_third_when_eye_is_open():
    assert rules.eye_aspect_ratio(OPEN_EYE) == pytest.approx(4 / 12)


def test_ear_is_a_tenth_when_eye_is_closed():
    assert rules.eye_aspect_ratio(CLOSED_EYE) == pytest.approx(1.2 / 12)


def test_ear_ignores_position_and_scale_when_eye_is_moved():
    moved = [(100 + 3 * x, 50 + 3 * y) for x, y in OPEN_EYE]
    assert rules.eye_aspect_ratio(moved) == pytest.approx(rules.eye_aspect_ratio(OPEN_EYE))


def test_ear_is_zero_when_eye_has_no_width():
    assert rules.eye_aspect_ratio([(1, 1)] * 6) == 0.0


def test_ear_raises_when_not_six_points():
    with pytest.raises(ValueError):
        rules.eye_aspect_ratio(OPEN_EYE[:5])


def test_mean_ear_averages_both_eyes_when_given_landmarks():
    landmarks = {"left_eye": OPEN_EYE, "right_eye": CLOSED_EYE}
    assert rules.mean_eye_aspect_ratio(landmarks) == pytest.approx((4 / 12 + 1.2 / 12) / 2)


# --- Blink ---------------------------------------------------------------------------------------------
def test_one_blink_is_counted_when_wide_eyes_close_and_reopen():
    # genuine_blink_meds_s001 measured: open 0.31-0.38, half 0.24, closed 0.13-0.16.
    ears = series(0.35, 0.24, 0.13, 0.14, 0.25) + [0.36, 0.34, 0.33]
    assert rules.count_blinks(ears) == 1


def test_one_blink_is_counted_when_narrow_eyes_close_and_reopen():
    # genuine_blink_obama: open 0.22-0.29 is below S001's closed-ish levels, closed 0.11-0.15.
    ears = [0.24, 0.27, 0.25, 0.26, 0.25, 0.26, 0.26, 0.25, 0.17, 0.10, 0.12, 0.18, 0.25, 0.26, 0.24]
    assert rules.count_blinks(ears) == 1


def test_no_blink_is_counted_when_static_photo_jitters():
    static_obama_320 = [0.26, 0.20, 0.26, 0.28, 0.28, 0.26, 0.24, 0.26, 0.25, 0.26, 0.23, 0.24, 0.29, 0.27]
    assert rules.count_blinks(static_obama_320) == 0


def test_no_blink_is_counted_when_person_talks_without_blinking():
    talking = [0.38, 0.33, 0.30, 0.33, 0.33, 0.29, 0.35, 0.31, 0.33, 0.34, 0.35, 0.32, 0.35, 0.39, 0.28]
    assert rules.count_blinks(talking) == 0


def test_two_blinks_are_counted_when_eyes_close_twice():
    ears = series(0.30, 0.12, 0.12, after=6) + [0.12, 0.13] + [0.30] * 4
    assert rules.count_blinks(ears) == 2


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(0.99, 1), (1.01, 0)],
    ids=["just_below_closed_ratio", "just_above_closed_ratio"],
)
def test_blink_counts_only_when_drop_reaches_closed_ratio(factor, expected):
    baseline = 0.30
    dip = baseline * rules.BLINK_CLOSED_RATIO * factor
    assert rules.count_blinks(series(baseline, dip)) == expected


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(1.01, 1), (0.99, 0)],
    ids=["recovers_just_above_open_ratio", "stays_just_below_open_ratio"],
)
def test_blink_counts_only_when_eye_recovers_to_open_ratio(factor, expected):
    baseline = 0.30
    recovered = baseline * rules.BLINK_OPEN_RATIO * factor
    # 8 frames at the baseline keep the median there; after the dip the eye only comes back to
    # `recovered`.
    ears = [baseline] * 8 + [0.10] + [recovered] * 3
    assert rules.blink_baseline(ears) == pytest.approx(baseline)
    assert rules.count_blinks(ears) == expected


def test_no_blink_is_counted_when_eyes_close_and_never_reopen():
    assert rules.count_blinks([0.30] * 8 + [0.20, 0.10, 0.10]) == 0


def test_no_blink_is_counted_when_session_starts_with_closed_eyes():
    # Opening eyes is not a blink: the eye must be seen open before it closes.
    assert rules.count_blinks([0.10, 0.10] + [0.30] * 8) == 0


def test_blink_threshold_follows_baseline_when_eyes_are_narrow():
    # No fixed EAR threshold serves both: 0.14 is a closed eye for someone open at 0.22...
    assert rules.count_blinks(series(0.22, 0.14)) == 1
    # ...and a flicker for someone whose eyes are open at 0.16.
    assert rules.count_blinks(series(0.16, 0.14)) == 0


def test_no_blink_is_counted_when_there_are_no_frames():
    assert rules.count_blinks([]) == 0
    assert rules.blink_baseline([]) == 0.0


def test_policy_ratios_are_used_when_counting_blinks():
    ears = series(0.30, 0.25)  # a 17 % drop
    assert rules.count_blinks(ears) == 0
    lenient = Policy(blink_closed_ratio=0.9, blink_open_ratio=0.95)
    assert rules.count_blinks(ears, lenient) == 1


# --- Colour ---------------------------------------------------------------------------------------------
SKIN = (180.0, 130.0, 110.0)


def lit(shown: list[str], gain: float = 10.0, exposure: list[float] | None = None) -> list[tuple]:
    """Face means as if the screen colour added ``gain`` levels per full-scale channel."""
    out = []
    for i, colour in enumerate(shown):
        shift = exposure[i] if exposure else 0.0
        out.append(tuple(s + gain * c / 255 + shift for s, c in zip(SKIN, rules.COLOUR_RGB[colour])))
    return out


SHOWN = ChallengePlan(colours=("red", "yellow", "blue", "green")).shown_colours()


def test_colour_correlation_is_high_when_face_follows_shown_order():
    assert rules.colour_correlation(lit(SHOWN), SHOWN) == pytest.approx(1.0)
    assert rules.colour_amplitude(lit(SHOWN, gain=10.0), SHOWN) == pytest.approx(10.0)


def test_colour_correlation_survives_auto_exposure_when_brightness_changes_per_frame():
    exposure = [(-1) ** i * 15.0 + i for i in range(len(SHOWN))]
    assert rules.colour_correlation(lit(SHOWN, exposure=exposure), SHOWN) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "recorded",
    [("yellow", "red", "blue", "green"), ("blue", "green", "red", "yellow"), ("green", "blue", "yellow", "red")],
    ids=["neighbours_swapped", "halves_swapped", "reversed"],
)
def test_colour_correlation_is_low_when_face_followed_another_order(recorded):
    means = lit(ChallengePlan(colours=recorded).shown_colours())
    assert rules.colour_correlation(means, SHOWN) < rules.COLOUR_MIN_CORRELATION


def test_every_wrong_order_fails_when_replaying_a_recorded_flash():
    means = lit(SHOWN)
    for order in itertools.permutations(rules.COLOURS):
        shown = ChallengePlan(colours=order).shown_colours()
        passes = rules.colour_passes(rules.colour_correlation(means, shown), rules.colour_amplitude(means, shown))
        assert passes == (shown == SHOWN), order


def test_colour_correlation_is_zero_when_face_colour_is_flat():
    assert rules.colour_correlation([SKIN] * len(SHOWN), SHOWN) == 0.0
    assert rules.colour_amplitude([SKIN] * len(SHOWN), SHOWN) == 0.0


def test_colour_fails_when_shift_is_too_small_to_be_light():
    faint = lit(SHOWN, gain=rules.COLOUR_MIN_AMPLITUDE / 2)
    correlation, amplitude = rules.colour_correlation(faint, SHOWN), rules.colour_amplitude(faint, SHOWN)
    assert correlation == pytest.approx(1.0)
    assert not rules.colour_passes(correlation, amplitude)


def test_colour_correlation_raises_when_lengths_differ():
    with pytest.raises(ValueError):
        rules.colour_correlation(lit(SHOWN)[:-1], SHOWN)


def test_colour_correlation_raises_when_colour_is_unknown():
    with pytest.raises(ValueError):
        rules.colour_correlation([SKIN, SKIN], ["red", "purple"])


# --- Turn -------------------------------------------------------------------------------------------------
def face_with_nose_at(x: float) -> dict:
    return {"chin": [(0.0, 50.0)] + [(50.0, 100.0)] * 15 + [(100.0, 50.0)], "nose_bridge": [(50, 20)] * 3 + [(x, 60)]}


def test_yaw_is_zero_when_nose_is_mid_jaw():
    assert rules.yaw_ratio(face_with_nose_at(50)) == 0.0


def test_yaw_is_positive_when_nose_moves_to_image_right():
    assert rules.yaw_ratio(face_with_nose_at(70)) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("direction", "yaws", "expected"),
    [
        ("left", [0.0, 0.0, 0.0, 0.1, 0.25, 0.1], True),
        ("right", [0.0, 0.0, 0.0, -0.1, -0.25, -0.1], True),
        ("left", [0.15, 0.15, 0.15, 0.3, 0.4], True),  # sits at an angle, then turns further
        ("left", [0.0, 0.0, 0.0, -0.3, 0.0], False),  # turned the other way
        ("left", [0.0, 0.0, 0.0, 0.19, 0.0], False),  # not far enough: a talking head moves this much
        ("left", [0.25, 0.25, 0.25, 0.25], False),  # a photo held at an angle never moves
    ],
    ids=["left", "right", "from_an_angle", "wrong_way", "too_little", "held_at_angle"],
)
def test_turn_is_seen_only_when_head_moves_the_asked_way_far_enough(direction, yaws, expected):
    assert rules.turn_done(yaws, direction) is expected


@pytest.mark.parametrize(("shift", "expected"), [(rules.TURN_MIN_YAW + 0.001, True), (rules.TURN_MIN_YAW - 0.001, False)])
def test_turn_counts_only_when_shift_reaches_threshold(shift, expected):
    assert rules.turn_done([0.05, 0.05, 0.05, 0.05 - shift], "right") is expected


def test_turn_raises_when_direction_is_unknown():
    with pytest.raises(ValueError):
        rules.turn_done([0.0], "up")


def test_turn_shift_is_zero_when_there_are_no_frames():
    assert rules.turn_shift([], "left") == 0.0


# --- Light --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("face_luma", "expected"), [(rules.MIN_FACE_LUMA - 0.5, True), (rules.MIN_FACE_LUMA, False)])
def test_too_dark_only_when_median_face_luma_under_minimum(face_luma, expected):
    assert rules.too_dark([face_luma] * 5 + [200.0, 0.0]) is expected


def test_luma_weights_green_most_when_computed():
    assert rules.luma((0, 255, 0)) > rules.luma((255, 0, 0)) > rules.luma((0, 0, 255))


# --- Policy ----------------------------------------------------------------------------------------------
def test_policy_forces_match_when_setting_omits_it():
    policy = Policy.from_setting("blink,colour", 0.6)
    assert policy.checks == {"blink", "colour", "match"}


def test_policy_accepts_spaces_and_case_when_parsing_setting():
    assert Policy.from_setting(" Blink , MATCH ,", 0.5).checks == {"blink", "match"}


def test_policy_is_match_only_when_setting_is_empty():
    assert Policy.from_setting("", 0.6).checks == {"match"}


def test_policy_raises_when_check_name_is_unknown():
    with pytest.raises(ValueError, match="smile"):
        Policy.from_setting("blink,smile,match", 0.6)


@pytest.mark.parametrize("tolerance", [0.0, 1.0, -0.1])
def test_policy_raises_when_tolerance_is_out_of_range(tolerance):
    with pytest.raises(ValueError):
        Policy.from_setting("blink,match", tolerance)


def test_default_policy_is_stronger_than_the_spec_minimum_when_built_from_default_setting():
    policy = Policy.from_setting(rules.DEFAULT_CHECKS_SETTING, rules.DEFAULT_TOLERANCE)
    assert policy == rules.DEFAULT_POLICY
    assert policy.checks == {"blink", "turn", "colour", "reflection", "depth", "match"}
    assert policy.tolerance == 0.6


def test_policy_raises_when_reflection_is_asked_without_colour():
    with pytest.raises(ValueError, match="reflection needs colour"):
        Policy.from_setting("blink,reflection,match")


@pytest.mark.parametrize(("setting", "asks"), [("blink,match", False), ("blink,turn,match", True),
                                               ("blink,depth,match", True), (rules.DEFAULT_CHECKS_SETTING, True)])
def test_policy_asks_a_turn_when_turn_or_depth_is_on(setting, asks):
    assert Policy.from_setting(setting).asks_turn is asks


# --- Challenge plans ---------------------------------------------------------------------------------------
def test_plan_colours_are_a_permutation_when_made():
    plan = rules.make_challenge_plan(random.Random(1))
    assert sorted(plan.colours) == sorted(rules.COLOURS)
    assert plan.blinks == 1
    assert plan.turn is None
    assert plan.colour_frame_count == len(plan.shown_colours()) == 4 * rules.FRAMES_PER_COLOUR
    assert len(plan.holds_ms) == 4 and set(plan.holds_ms) <= set(rules.HOLD_CHOICES_MS)


def test_plans_vary_when_made_with_different_randomness():
    orders = {rules.make_challenge_plan(random.Random(seed)).colours for seed in range(100)}
    assert len(orders) >= 15  # of 24 possible


def test_plan_asks_a_turn_only_when_policy_has_turn():
    policy = Policy.from_setting("blink,turn,match")
    turns = {rules.make_challenge_plan(random.Random(seed), policy).turn for seed in range(30)}
    assert turns == {"left", "right"}
    assert rules.make_challenge_plan(random.Random(0), Policy.from_setting("blink,colour,match")).turn is None
    assert rules.make_challenge_plan(random.Random(0), rules.DEFAULT_POLICY).turn in ("left", "right")


def test_plan_round_trips_when_serialised_to_json():
    plan = ChallengePlan(colours=("blue", "red", "green", "yellow"), blinks=1, turn="left", frames_per_colour=3,
                         holds_ms=(600, 700, 1000, 550))
    text = plan.to_json()
    assert ChallengePlan.from_json(text) == plan
    assert ChallengePlan.from_json(json.loads(text)) == plan


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[]",
        '{"colours": "red"}',
        '{"colours": ["purple"]}',
        '{"colours": ["red"], "turn": "up"}',
        '{"colours": ["red"], "frames_per_colour": 0}',
        '{"colours": ["red"], "blinks": -1}',
        '{"colours": ["red"], "holds_ms": [600, 700]}',
        '{"colours": ["red"], "holds_ms": 600}',
        '{"colours": ["red"], "holds_ms": [0]}',
    ],
)
def test_plan_raises_when_json_is_invalid(bad):
    with pytest.raises(ValueError):
        ChallengePlan.from_json(bad)


def test_shown_colours_repeat_each_colour_when_frames_per_colour_is_two():
    plan = ChallengePlan(colours=("red", "blue"), frames_per_colour=2)
    assert plan.shown_colours() == ["red", "red", "blue", "blue"]


# --- Constants and messages ------------------------------------------------------------------------------
REASONS = [
    "no_face",
    "several_faces",
    "not_same_person",
    "no_blink",
    "too_dark",
    "colour_mismatch",
    "no_turn",
    "face_mismatch",
    "too_few_frames",
    "bad_frame",
    "expired",
    "used",
    "flash_timing",
    "light_implausible",
    "flat_face",
]


@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_has_a_chinese_message_when_shown_to_user(reason):
    message = rules.REASON_MESSAGES[reason]
    assert re.search(r"[\u4e00-\u9fff]", message)
    assert message.endswith("。")


def test_constants_have_spec_defaults_when_imported():
    assert rules.CHALLENGE_TTL == timedelta(seconds=60)
    assert rules.DEFAULT_TOLERANCE == 0.6
    assert rules.COLOURS == ("red", "yellow", "blue", "green")
    assert "".join(rules.COLOUR_NAMES[c] for c in rules.COLOURS) == "红黄蓝绿"
    assert rules.MIN_FRAMES < rules.MAX_FRAMES


# --- Frame limits ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(640, 480), (480, 640), (320, 240), (640, 1138)],
                         ids=["landscape", "portrait", "small", "720x1280_portrait_scaled"])
def test_frame_limits_take_every_frame_the_camera_page_sends(size):
    width, height = size
    assert width <= rules.FRAME_WIDTH
    assert max(width, height) <= rules.MAX_FRAME_SIDE and width * height <= rules.MAX_FRAME_PIXELS


def test_frame_limits_refuse_the_crafted_4096x3072_frames_of_issue_13():
    # 48 one-bit PNGs of this size (~1.5 KB each) cost 8-9 s of CPU to decode under the old 4096 px limit.
    assert 4096 > rules.MAX_FRAME_SIDE and 4096 * 3072 > rules.MAX_FRAME_PIXELS
    assert rules.MAX_FRAME_PIXELS <= 4 * rules.FRAME_WIDTH * 480  # at most twice the page's frame a side


# --- Late reveal: the page's capture times against the server's reveals ------------------------------------------
PLAN4 = ChallengePlan(colours=("red", "yellow", "blue", "green"), holds_ms=(600, 700, 800, 650))
OFFSET = 5_000.0  # server clock minus page clock


def session_times(plan: ChallengePlan = PLAN4, *, trip: float = 80.0, first_age: float = 2.0):
    """What an honest page reports, and the server's reveals: each request answered mid-way."""
    steps, reveals, frames = [], [], []
    sent = 10_000.0
    for hold in plan.holds_ms:
        received = sent + trip
        reveals.append(sent + trip / 2 + OFFSET)
        painted = received + 5
        steps.append(rules.FlashStep(sent, received, painted))
        frames += [painted + first_age, painted + 150, painted + 300, painted + 450]
        sent = painted + hold + 3
    return reveals, steps, frames, frames[-1] + OFFSET + 500


def test_flash_timeline_places_every_frame_when_an_honest_page_reports_its_times():
    timeline = rules.flash_timeline(PLAN4, *session_times())
    assert timeline.ok, timeline.problem
    assert timeline.ages_ms[:4] == pytest.approx((2.0, 150.0, 300.0, 450.0))
    assert [timeline.steady(i) for i in range(4)] == [False, False, True, True]
    assert timeline.boundary(0) and not timeline.boundary(1)
    assert timeline.offset_ms == pytest.approx(OFFSET)


def test_flash_timeline_refuses_when_a_script_asked_for_every_colour_at_once():
    reveals, steps, frames, submitted = session_times()
    quick = [reveals[0] + 20 * k for k in range(4)]  # the server saw the four requests within 60 ms
    timeline = rules.flash_timeline(PLAN4, quick, steps, frames, submitted)
    assert timeline.problem and "asked for" in timeline.problem or "disagree" in timeline.problem


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("clock", "disagree"),
        ("late_first", "first frame"),
        ("after_step", "after the step ended"),
        ("after_submit", "after the frames were received"),
        ("not_increasing", "do not increase"),
        ("missing_step", "steps revealed"),
        ("painted_early", "painted before"),
        ("nan", "finite"),
    ],
)
def test_flash_timeline_names_the_problem_when_the_times_do_not_fit(change, expected):
    reveals, steps, frames, submitted = session_times()
    if change == "clock":  # the page claims step 3 was requested a second later than it was
        steps[2] = rules.FlashStep(steps[2].sent_ms + 1000, steps[2].received_ms + 1000, steps[2].painted_ms + 1000)
    elif change == "late_first":
        frames[4] += rules.BOUNDARY_MS
    elif change == "after_step":
        frames[7] = steps[2].painted_ms + 1
    elif change == "after_submit":
        submitted = frames[-1] + OFFSET - 200
    elif change == "not_increasing":
        frames[2] = frames[1] - 1
    elif change == "missing_step":
        reveals = reveals[:3]
    elif change == "painted_early":
        steps[1] = rules.FlashStep(steps[1].sent_ms, steps[1].received_ms, steps[1].received_ms - 1)
    elif change == "nan":
        frames[3] = float("nan")
    timeline = rules.flash_timeline(PLAN4, reveals, steps, frames, submitted)
    assert not timeline.ok
    assert expected in timeline.problem


def test_flash_timeline_accepts_a_slow_network_when_the_offsets_agree():
    assert rules.flash_timeline(PLAN4, *session_times(trip=1500.0)).ok


def test_plan_step_tells_one_colour_and_its_hold_when_revealed():
    assert PLAN4.step(1) == {"step": 1, "steps": 4, "colour": "yellow", "name": "黄", "rgb": [255, 255, 0],
                             "hold_ms": 700}


# --- Reflected light ---------------------------------------------------------------------------------------------
def reflected(plan: ChallengePlan, gain: float, *, onset: float = 0.0, base=SKIN) -> list[tuple[float, ...]]:
    """Region means of the 16 flash frames: each step's colour adds ``gain`` levels; the step's first frame shows
    ``onset`` of the new light (0: a camera, 1: an injector that tints on the reveal)."""
    out = []
    for k, colour in enumerate(plan.colours):
        previous = rules.COLOUR_RGB[plan.colours[k - 1]] if k else (255, 255, 255)
        for j in range(4):
            share = onset if j == 0 else 1.0
            light = [share * c + (1 - share) * p for c, p in zip(rules.COLOUR_RGB[colour], previous)]
            out.append(tuple(b * (1 + gain * v / 255 / 100) for b, v in zip(base, light)))
    return out


STEPS = [i // 4 for i in range(16)]
TIMELINE = rules.FlashTimeline(ages_ms=(2.0, 150.0, 300.0, 450.0) * 4, offset_ms=0.0)
SHOWN_STEADY = [c for c in PLAN4.colours for _ in range(2)]


def steady(means):
    return [m for i, m in enumerate(means) if TIMELINE.steady(i)]


@pytest.mark.parametrize(("onset", "passes"), [(0.0, True), (0.3, True), (1.0, False)])
def test_light_onset_passes_only_when_the_step_frame_shows_the_old_light(onset, passes):
    value = rules.light_onset(reflected(PLAN4, 10.0, onset=onset), STEPS, TIMELINE)
    assert value == pytest.approx(onset, abs=0.02)
    assert (value <= rules.LIGHT_MAX_ONSET) is passes


def test_background_ratio_is_small_when_the_background_is_far():
    face = steady(reflected(PLAN4, 12.0))
    wall = steady(reflected(PLAN4, 0.5, base=(60.0, 55.0, 50.0)))
    assert rules.background_ratio(face, wall, SHOWN_STEADY) < 0.1


@pytest.mark.parametrize("background", [(30.0, 28.0, 25.0), (220.0, 215.0, 210.0)], ids=["dark", "bright"])
def test_background_ratio_is_near_one_when_the_whole_frame_is_tinted_alike(background):
    face = steady(reflected(PLAN4, 12.0))
    multiplied = steady(reflected(PLAN4, 12.0, base=background))
    # blended toward the colour: the same levels added everywhere
    blended = [tuple(w + (f - s) for w, f, s in zip(background, fm, SKIN)) for fm in face]
    for wall in (multiplied, blended):
        assert rules.background_ratio(face, wall, SHOWN_STEADY) > rules.LIGHT_MAX_BACKGROUND_RATIO


def test_eye_ratio_is_above_one_only_when_a_catch_light_adds_the_screen_colour():
    face = steady(reflected(PLAN4, 10.0))
    diffuse = steady(reflected(PLAN4, 10.0, base=(70.0, 50.0, 40.0)))
    catch = [tuple(v + 0.05 * c for v, c in zip(m, rules.COLOUR_RGB[colour]))
             for m, colour in zip(diffuse, SHOWN_STEADY)]
    assert rules.eye_ratio(face, diffuse, SHOWN_STEADY) == pytest.approx(1.0, abs=0.05)
    assert rules.eye_ratio(face, catch, SHOWN_STEADY) > 1.3


def test_light_passes_skips_what_was_not_measured():
    assert rules.light_passes(0.0, None, None)
    assert not rules.light_passes(0.0, 0.9, None)
    assert not rules.light_passes(0.0, None, 0.2)  # eyes that do not follow the flash
    assert not rules.light_passes(0.9, 0.0, 2.0)


# --- Depth -------------------------------------------------------------------------------------------------------
def face_points(seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    xy = rng.uniform(100, 300, (68, 2))
    xy[36:42] = [150, 150] + rng.uniform(-10, 10, (6, 2))
    xy[42:48] = [250, 150] + rng.uniform(-10, 10, (6, 2))
    return xy, rng.uniform(0, 60, 68)  # positions, and depth towards the camera


def project(xy, z, yaw: float, distance: float = 900.0):
    import numpy as np

    x, y = xy[:, 0] - 200, xy[:, 1] - 200
    xr, zr = x * np.cos(yaw) + z * np.sin(yaw), -x * np.sin(yaw) + z * np.cos(yaw)
    scale = distance / (distance - zr)
    return np.stack([200 + xr * scale, 200 + y * scale], axis=1)


def test_planar_residual_is_zero_when_a_flat_picture_is_tilted():
    import numpy as np

    xy, _ = face_points()
    flat = np.zeros(68)
    assert rules.planar_residual(project(xy, flat, 0.0), project(xy, flat, 0.5)) < 1e-6


def test_planar_residual_is_large_when_a_face_with_depth_turns():
    xy, z = face_points()
    residual = rules.planar_residual(project(xy, z, 0.0), project(xy, z, 0.4))
    assert residual > rules.DEPTH_MIN_RESIDUAL
    assert rules.depth_passes(residual) and not rules.depth_passes(0.0)


def test_the_app_default_is_the_rules_default_when_nothing_is_set(monkeypatch, tmp_path):
    from webapp.config import from_environment

    monkeypatch.delenv("SUISHEN_LIVENESS_CHECKS", raising=False)
    assert from_environment(str(tmp_path))["SUISHEN_LIVENESS_CHECKS"] == rules.DEFAULT_CHECKS_SETTING


# --- Failures per person and device (issue 16) ----------------------------------------------------------------
@pytest.mark.parametrize("here, elsewhere, trusted, expected", [
    (2, 0, False, None),
    (3, 0, False, rules.FAILED_HERE),
    (3, 0, True, rules.FAILED_HERE),       # the holder's own failures stop them too
    (0, 9, True, None),                    # a stranger's never stop the holder's account or phone
    (0, 2, False, None),
    (0, 3, False, rules.FAILED_ELSEWHERE),  # ... but stop a new device: the cap across devices stays
    (1, 2, False, rules.FAILED_ELSEWHERE),
])
def test_failure_refusal_when_counts_are_on_either_side_of_the_cap(here, elsewhere, trusted, expected):
    count = rules.FailureCount(here=here, elsewhere=elsewhere, trusted=trusted)
    assert rules.failure_refusal(count, 3) == expected
    assert rules.failure_refusal(count, 0) is None  # no cap configured


def test_failure_message_tells_only_this_partys_count_when_refused():
    assert rules.failure_message(rules.FAILED_HERE, rules.FailureCount(here=3, elsewhere=7)).startswith("您已连续 3 次")
    elsewhere = rules.failure_message(rules.FAILED_ELSEWHERE, rules.FailureCount(here=0, elsewhere=3))
    assert "您已连续" not in elsewhere and "其他设备" in elsewhere


def test_a_device_party_is_a_digest_of_its_cookie_when_stored():
    party = rules.device_party("some-cookie-value-0123456789")
    assert party.startswith(rules.PARTY_DEVICE) and "some-cookie" not in party and len(party) <= 64
