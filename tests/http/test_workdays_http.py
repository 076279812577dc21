"""The holiday schedule's coverage is reported by /healthz and the admin CLI, and an operator's file is used."""
import json
from datetime import datetime, timezone

import pytest

from webapp import create_app, workdays
from webapp.clock import FrozenClock
from tests.conftest import make_test_config

OCTOBER = FrozenClock(datetime(2026, 10, 1, 2, 0, tzinfo=timezone.utc))
DECEMBER = FrozenClock(datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc))


@pytest.fixture(autouse=True)
def shipped_schedule_afterwards():
    yield
    workdays.configure(None)


@pytest.fixture
def make_app(database_url, session_factory):
    def make(clock, **config):
        return create_app(make_test_config(database_url, **config), clock=clock, session_factory=session_factory)
    return make


def test_healthz_is_plain_ok_while_the_schedule_reaches_sixty_days_ahead(make_app):
    resp = make_app(OCTOBER).test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_healthz_warns_when_next_year_has_no_published_schedule(make_app):
    resp = make_app(DECEMBER).test_client().get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "ok"
    assert body["warnings"][0]["code"] == "workday_schedule_missing" and body["warnings"][0]["years"] == [2027]


def test_the_operators_schedule_file_silences_the_warning_and_moves_deadlines(make_app, tmp_path):
    path = tmp_path / "ops.json"
    path.write_text(json.dumps({"2027": {"holidays": {"2027-01-01": "元旦"}, "workdays": ["2027-01-02"]}}))
    app = make_app(DECEMBER, SUISHEN_WORKDAY_SCHEDULE=str(path))
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
    assert workdays.is_workday(datetime(2027, 1, 2).date())  # the operator's make-up Saturday


def test_an_unreadable_schedule_file_stops_the_start(make_app, tmp_path):
    path = tmp_path / "ops.json"
    path.write_text("{not json")
    with pytest.raises(workdays.ScheduleError):
        make_app(DECEMBER, SUISHEN_WORKDAY_SCHEDULE=str(path))


def test_cli_check_fails_and_says_which_year_is_missing(make_app):
    result = make_app(DECEMBER).test_cli_runner().invoke(args=["workdays", "check"])
    assert result.exit_code == 1 and "2027" in result.output


def test_cli_check_passes_when_covered(make_app):
    result = make_app(OCTOBER).test_cli_runner().invoke(args=["workdays", "check"])
    assert result.exit_code == 0 and "2026" in result.output
