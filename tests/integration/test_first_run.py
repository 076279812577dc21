"""First run (issue 16): admin commands read instance/secret_key and instance/vapid.env without anything exported
by hand, production still refuses to start without a key, `registry demo` makes logins, and the README's
administration examples work when pasted. Through the real CLI on both databases."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp import create_app
from webapp.accounts.models import User
from webapp.accounts.rules import LEVEL_REALPERSON
from webapp import roles
from webapp.officer.models import Officer
from webapp.registry import services as registry
from webapp.registry.models import Citizen, LicenceRecord
from tests.conftest import demo_logins, make_test_config

README = Path(__file__).resolve().parents[2] / "README.md"
FILE_KEY = "key-from-the-instance-file-" + "x" * 40


def production_app(database_url, session_factory, clock, instance: Path, **overrides):
    """The app as `flask --app app` builds it in production: no SECRET_KEY or VAPID keys in its config (they come
    from the environment or the instance folder), SUISHEN_ENV=production."""
    config = make_test_config(database_url, SUISHEN_ENV="production", **overrides)
    for name in ("SECRET_KEY", "SUISHEN_VAPID_PUBLIC_KEY", "SUISHEN_VAPID_PRIVATE_KEY"):
        config.pop(name)
    return create_app(config, clock=clock, session_factory=session_factory, instance_path=str(instance))


@pytest.fixture
def bare_environment(monkeypatch):
    for name in ("SECRET_KEY", "SUISHEN_VAPID_PUBLIC_KEY", "SUISHEN_VAPID_PRIVATE_KEY", "SUISHEN_VAPID_SUBJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUISHEN_ENV", "production")


def test_admin_command_runs_with_instance_secret_key_when_env_has_none(
        bare_environment, database_url, session_factory, clock, db_session, tmp_path):
    (tmp_path / "secret_key").write_text(FILE_KEY + "\n")
    (tmp_path / "vapid.env").write_text("SUISHEN_VAPID_PUBLIC_KEY=pub-from-file\n"
                                        "SUISHEN_VAPID_PRIVATE_KEY=priv-from-file\nDATABASE_URL=ignored\n")
    app = production_app(database_url, session_factory, clock, tmp_path)
    assert app.config["SECRET_KEY"] == FILE_KEY
    assert (app.config["SUISHEN_VAPID_PUBLIC_KEY"], app.config["SUISHEN_VAPID_PRIVATE_KEY"]) == \
        ("pub-from-file", "priv-from-file")
    result = app.test_cli_runner().invoke(args=["officer", "create", "wang.desk", "--role", "railway"],
                                          input="S3cret-pass1\n")
    assert result.exit_code == 0, result.output
    assert db_session.scalar(select(Officer.role).where(Officer.username == "wang.desk")) == "railway"


def test_environment_wins_over_instance_files_when_both_are_set(bare_environment, monkeypatch, database_url,
                                                                session_factory, clock, tmp_path):
    (tmp_path / "secret_key").write_text(FILE_KEY)
    (tmp_path / "vapid.env").write_text("SUISHEN_VAPID_PUBLIC_KEY=pub-from-file\n")
    monkeypatch.setenv("SECRET_KEY", "key-from-the-environment")
    monkeypatch.setenv("SUISHEN_VAPID_PUBLIC_KEY", "")  # set, even empty: push off
    app = production_app(database_url, session_factory, clock, tmp_path)
    assert app.config["SECRET_KEY"] == "key-from-the-environment"
    assert app.config["SUISHEN_VAPID_PUBLIC_KEY"] == ""


@pytest.mark.parametrize("file_text", [None, "", "  \n"])
def test_production_refuses_to_start_when_neither_env_nor_file_has_a_key(
        bare_environment, database_url, session_factory, clock, tmp_path, file_text):
    if file_text is not None:
        (tmp_path / "secret_key").write_text(file_text)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        production_app(database_url, session_factory, clock, tmp_path)


# --- registry demo: logins ----------------------------------------------------------------------------------
def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_demo_creates_one_citizen_account_and_one_officer_per_role_once_when_run_twice(app, db_session):
    first = run(app, "registry", "demo")
    assert first.exit_code == 0, first.output
    logins = demo_logins(first.output)
    officers = {"demo-" + role for role in roles.ROLES}
    assert set(logins) == officers | {"13800138001"}
    assert {state for _, state in logins.values()} == {"新建"}
    # The logins are the last thing printed, so `make run` shows them above the server's log.
    assert first.output.rstrip().splitlines()[-1].startswith("演示数据已写入")

    second = run(app, "registry", "demo")
    assert second.exit_code == 0, second.output
    again = demo_logins(second.output)
    assert {login: password for login, (password, _) in again.items()} == \
        {login: password for login, (password, _) in logins.items()}  # the same passwords, printed again
    assert {state for _, state in again.values()} == {"已有"}
    assert db_session.scalar(select(func.count()).select_from(User)) == 1
    assert db_session.scalar(select(func.count()).select_from(Officer)) == len(roles.ROLES)
    assert db_session.scalar(select(func.count()).select_from(Citizen)) == 5
    assert db_session.scalar(select(func.count()).select_from(LicenceRecord)) == 3
    user = db_session.scalar(select(User))
    assert (user.phone, user.level, user.citizen.name) == ("13800138001", LEVEL_REALPERSON, "李明")
    stored = dict(db_session.execute(select(Officer.username, Officer.role)).all())
    assert stored == {"demo-" + role: role for role in roles.ROLES}


def test_demo_puts_back_a_changed_role_level_and_password_when_run_again(app, db_session):
    assert run(app, "registry", "demo").exit_code == 0
    officer = db_session.scalar(select(Officer).where(Officer.username == "demo-admin"))
    officer.role, officer.active, officer.password_hash = "railway", False, "x"
    user = db_session.scalar(select(User))
    user.level = "unverified"
    db_session.commit()
    assert run(app, "registry", "demo").exit_code == 0
    db_session.expire_all()
    officer = db_session.scalar(select(Officer).where(Officer.username == "demo-admin"))
    assert (officer.role, officer.active, officer.password_hash != "x") == ("admin", True, True)
    assert db_session.scalar(select(User)).level == LEVEL_REALPERSON


def test_demo_passwords_follow_the_secret_key(app, db_session):
    first = demo_logins(run(app, "registry", "demo").output)
    app.config["SECRET_KEY"] = "another-secret-key"
    second = demo_logins(run(app, "registry", "demo").output)
    assert all(first[login][0] != second[login][0] for login in first)


def test_demo_still_makes_the_officers_when_the_demo_phone_belongs_to_another_account(app, db_session, auth,
                                                                                       clock):
    """In demo mode anyone can register; a visitor who registered the demo phone for another citizen must not
    stop `make run`: a warning, and the rest lands."""
    person = list(registry.iter_demo_people(clock.now().date()))[1]  # 王芳
    registry.upsert_citizen(db_session, portrait=None, now=clock.now(), **person)
    db_session.commit()
    citizen = registry.find_citizen(db_session, person["id_number"])
    assert auth.register(citizen, phone="13800138001").status_code == 302
    result = run(app, "registry", "demo")
    assert result.exit_code == 0, result.output
    assert "13800138001 已被其他账号使用" in result.output
    assert set(demo_logins(result.output)) == {"demo-" + role for role in roles.ROLES}


# --- the README's administration examples -------------------------------------------------------------------
def readme_flask_examples() -> list[str]:
    """Every `flask --app app ...` example written out in full in the README, with what may precede it when
    pasted: `echo '...' | `, `NAME=value ` settings, `.venv/bin/`, `watch -n2 `. Placeholders (`<command>`, `…`)
    are left out."""
    text = README.read_text(encoding="utf-8").replace("\\|", "|")  # `\|` in a table renders as `|`
    found = re.findall(r"`((?:echo [^`|]+\| )?(?:watch -n\d+ )?(?:[A-Z_]+=\S+ )*(?:\.venv/bin/)?"
                       r"flask --app app [^`]+)`", text)
    return [e for e in found if "<" not in e and "…" not in e]


def parse_example(example: str) -> tuple[str | None, list[str]]:
    """(standard input, the command's arguments after `flask --app app`)."""
    stdin, _, command = example.rpartition("| ")
    words = shlex.split(command)
    if words[0] == "watch":
        words = words[2:]
    while "=" in words[0]:
        words = words[1:]
    assert words[0] in {"flask", ".venv/bin/flask"} and words[1:3] == ["--app", "app"], example
    return (shlex.split(stdin)[1] + "\n" if stdin else None), words[3:]


def test_readme_officer_create_example_works_when_pasted(app, db_session):
    examples = [e for e in readme_flask_examples() if " officer create " in e]
    assert examples, "the README shows how to create an officer"
    for example in examples:
        stdin, args = parse_example(example)
        result = run(app, *args, input=stdin)
        assert result.exit_code == 0, f"{example}\n{result.output}"


def test_readme_every_full_flask_example_names_a_real_command(app):
    cli = app.cli
    ctx = cli.make_context("flask", ["--help"], resilient_parsing=True)
    examples = readme_flask_examples()
    assert len(examples) >= 4, examples
    for example in examples:
        _, words = parse_example(example)
        group = cli.get_command(ctx, words[0])
        assert group is not None, example
        if hasattr(group, "get_command") and len(words) > 1 and not words[1].startswith("-"):
            assert group.get_command(ctx, words[1]) is not None, example


def test_readme_csv_headers_are_the_ones_the_import_reads():
    text = README.read_text(encoding="utf-8")
    assert f"`{','.join(registry.CITIZEN_FIELDS)}`" in text
    assert f"`{','.join(registry.LICENCE_FIELDS)}`" in text
