"""The flash plan revealed step by step over HTTP (issue 15): the page holds no colour until it must show it, the
server keeps when it told each, and the decision checks the page's capture times against those instants.

The end-to-end cases run the real engine (the queue in-process) on a generated genuine session
(tests/liveness_data.py); the server's clock is the test's FrozenClock, moved to each reveal's instant.
"""
from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests import liveness_data as data
from tests.http.test_proofing_http import begin, status_of, user_with_portrait
from tests.testdata import needs_testdata
from webapp.accounts.models import User
from webapp.proofing import rules
from webapp.proofing.models import ISSUED, Challenge
from webapp.proofing.rules import ChallengePlan


def reveal(client, public_id: str, token: str, step) -> object:
    return client.post(f"/proofing/{public_id}/flash", json={"step": step},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def challenge_of(db_session, public_id: str) -> Challenge:
    db_session.expire_all()
    return db_session.scalar(select(Challenge).where(Challenge.public_id == public_id))


def test_the_page_learns_each_colour_only_at_its_step(app, client, auth, db_session, clock):
    public_id, token = begin(client, auth, user_with_portrait())
    html = client.get(f"/proofing/{public_id}").get_data(as_text=True)
    config = json.loads(html.split("data-config='", 1)[1].split("'", 1)[0].replace("&#34;", '"'))
    plan = ChallengePlan.from_json(challenge_of(db_session, public_id).plan)
    assert config["plan"] == {"blinks": 1, "turn": plan.turn, "steps": 4}
    assert not any(colour in html for colour in ("red", "yellow", "blue", "green", "rgb(255"))

    told = []
    for step in range(4):
        assert reveal(client, public_id, token, step + 1).status_code in (400, 409)  # never ahead of time
        clock.advance(milliseconds=plan.holds_ms[step])
        answer = reveal(client, public_id, token, step)
        assert answer.status_code == 200
        told.append(answer.get_json())
    assert [t["colour"] for t in told] == list(plan.colours)
    assert [t["hold_ms"] for t in told] == list(plan.holds_ms)
    assert told[0]["rgb"] == list(rules.COLOUR_RGB[plan.colours[0]]) and told[0]["name"]
    reveals = challenge_of(db_session, public_id).reveals
    assert len(reveals) == 4 and reveals[1] - reveals[0] == pytest.approx(plan.holds_ms[1])


def test_asking_again_for_the_current_step_keeps_its_first_instant(client, auth, db_session, clock):
    public_id, token = begin(client, auth, user_with_portrait())
    first = reveal(client, public_id, token, 0).get_json()
    clock.advance(seconds=1)
    assert reveal(client, public_id, token, 0).get_json() == first
    assert len(challenge_of(db_session, public_id).reveals) == 1
    assert reveal(client, public_id, token, 2).status_code == 409  # not the next one


@pytest.mark.parametrize("body", [{"step": "0"}, {"step": True}, {"step": 4}, {}, None], ids=str)
def test_a_bad_step_is_refused_with_a_clear_400_and_nothing_recorded(client, auth, db_session, body):
    public_id, token = begin(client, auth, user_with_portrait())
    resp = client.post(f"/proofing/{public_id}/flash", json=body,
                       headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_step"
    assert "炫彩" in resp.get_json()["message"]
    assert challenge_of(db_session, public_id).reveals is None


def test_no_colour_is_told_to_another_browser_session_or_after_the_challenge_closed(app, client, auth, db_session,
                                                                                     clock):
    public_id, token = begin(client, auth, user_with_portrait())
    other = app.test_client()
    assert other.post(f"/proofing/{public_id}/flash", json={"step": 0}).status_code in (400, 403)
    clock.advance(seconds=61)
    resp = reveal(client, public_id, token, 0)
    assert resp.status_code == 409 and "已结束" in resp.get_json()["message"]


def test_no_flash_is_revealed_when_the_challenge_has_no_colour_check(app, client, auth, db_session):
    app.config["SUISHEN_LIVENESS_CHECKS"] = "blink,match"
    public_id, token = begin(client, auth, user_with_portrait())
    assert reveal(client, public_id, token, 0).status_code == 409


# --- Through the endpoint, on a generated genuine session ----------------------------------------------------------
def post_session(client, public_id, token, sample: data.Sample, timing) -> object:
    fields = MultiDict(
        [("blink", FileStorage(io.BytesIO(b), f"b{i}.jpg", content_type="image/jpeg"))
         for i, b in enumerate(sample.blink)]
        + [("colour", FileStorage(io.BytesIO(b), f"c{i}.jpg", content_type="image/jpeg"))
           for i, b in enumerate(sample.colour)]
        + ([("timing", timing if isinstance(timing, str) else json.dumps(timing))] if timing is not None else []))
    boundary, body = encode_multipart(fields)
    return client.post(f"/proofing/{public_id}/frames", data=body, headers={"X-CSRFToken": token,
                       "Accept": "application/json"}, content_type=f"multipart/form-data; boundary={boundary}")


def page_timing(sample: data.Sample) -> dict:
    return {"steps": [[s.sent_ms, s.received_ms, s.painted_ms] for s in sample.steps], "frames": sample.frame_ms}


def play(app, client, auth, db_session, clock, s001_portrait, *, rushed: bool = False):
    """Run a generated genuine session (its plan put on the server's challenge) through the real endpoints: each
    step revealed at the session's own instant on the server's clock (or, ``rushed``, all at once), then the
    frames posted with the page's capture times."""
    app.config["SUISHEN_LIVENESS_CHECKS"] = rules.DEFAULT_CHECKS_SETTING
    sample = data.cached_sample("still", "s001", 1)
    jpeg, encoding = s001_portrait
    user = user_with_portrait(encoding=encoding, portrait=jpeg)
    public_id, token = begin(client, auth, user)
    challenge = challenge_of(db_session, public_id)
    challenge.plan = sample.plan.to_json()  # the frames follow the generated session's plan
    db_session.flush()
    start = clock.now() + timedelta(seconds=4)
    for step, at in enumerate(sample.reveals_ms):
        clock.set(start + timedelta(milliseconds=0 if rushed else at - sample.reveals_ms[0]))
        assert reveal(client, public_id, token, step).status_code == 200
    clock.set(start + timedelta(milliseconds=sample.submitted_ms - sample.reveals_ms[0]))
    # The page's clock: the session's own page times, shifted so that its offset to the server is arbitrary.
    return user, public_id, token, sample


@needs_testdata
def test_a_genuine_session_passes_the_default_checks_through_the_endpoint(app, client, auth, db_session, clock,
                                                                          s001_portrait):
    user, public_id, token, sample = play(app, client, auth, db_session, clock, s001_portrait)
    body = post_session(client, public_id, token, sample, page_timing(sample)).get_json()
    assert body["passed"] is True, (body, challenge_of(db_session, public_id).scores)
    scores = challenge_of(db_session, public_id).scores
    assert scores["colour_ages_ms"][0] < rules.BOUNDARY_MS and scores["depth_residual"] >= rules.DEPTH_MIN_RESIDUAL
    client.get(body["next_url"])
    db_session.expire_all()
    assert db_session.get(User, user.id).level == "realperson"


@needs_testdata
def test_a_script_that_asked_for_every_colour_at_once_is_refused_flash_timing(app, client, auth, db_session, clock,
                                                                              s001_portrait):
    _, public_id, token, sample = play(app, client, auth, db_session, clock, s001_portrait, rushed=True)
    body = post_session(client, public_id, token, sample, page_timing(sample)).get_json()
    assert (body["passed"], body["reason"]) == (False, rules.FLASH_TIMING)
    assert body["message"] == rules.REASON_MESSAGES[rules.FLASH_TIMING]
    problem = challenge_of(db_session, public_id).scores["flash_timing"]
    assert "asked for" in problem or "disagree" in problem  # the page's own times cannot fit four instant reveals


@needs_testdata
@pytest.mark.parametrize("timing", ["not json", json.dumps({"steps": "x", "frames": []}),
                                    json.dumps({"steps": [[1, 2]], "frames": [1]}), "[" * 5000],
                         ids=["not_json", "wrong_shape", "short_step", "too_long"])
def test_a_malformed_timing_report_is_refused_with_a_clear_400_and_nothing_written(app, client, auth, db_session,
                                                                                   clock, s001_portrait, timing):
    _, public_id, token, sample = play(app, client, auth, db_session, clock, s001_portrait)
    resp = post_session(client, public_id, token, sample, timing)
    assert resp.status_code == 400 and resp.get_json()["message"] == "炫彩时间数据无效，请重新核验。"
    assert status_of(db_session, public_id) == ISSUED


@needs_testdata
def test_colour_frames_without_a_timing_report_fail_flash_timing(app, client, auth, db_session, clock,
                                                                 s001_portrait):
    _, public_id, token, sample = play(app, client, auth, db_session, clock, s001_portrait)
    body = post_session(client, public_id, token, sample, None).get_json()
    assert body["reason"] == rules.FLASH_TIMING
