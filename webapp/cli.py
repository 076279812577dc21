"""The app's command line (``flask --app app …``): the edge of the work done outside a request. Like a view, a
command reads the clock once, calls services and commits once; it sits beside ``create_app`` and may use any
domain (the registry import hands the face engine to the registry; the demo data spans every domain)."""
from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup

from webapp import migrate, workdays
from webapp.db import get_session
from webapp.demo import data as demo_data
from webapp.driving_licence import services as licences
from webapp.proofing.services import prepare_portrait
from webapp.registry import services
from webapp.timeutil import local_date

db_cli = AppGroup("db", help="Database migrations (Alembic).")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade(revision: str) -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision=revision)
    click.echo(f"数据库已升级到 {revision}。")
    _warn_if_schedule_missing()


@db_cli.command("check")
def check() -> None:
    """Fail when the models and the migrations disagree."""
    command.check(migrate.alembic_config(current_app.config["DATABASE_URL"]))
    click.echo("模型与迁移一致。")


workdays_cli = AppGroup("workdays", help="Chinese working days: the State Council holiday schedule.")


@workdays_cli.command("check")
def check_workdays() -> None:
    """Say which years the loaded schedule covers; exit 1 when the next 60 days are not covered."""
    schedule = workdays.current_schedule()
    click.echo("已录入国务院节假日安排的年份：" + "、".join(str(y) for y in sorted(schedule.years)))
    if not _warn_if_schedule_missing():
        raise SystemExit(1)
    click.echo(f"未来 {workdays.COVERAGE_HORIZON.days} 天均有已发布的安排。")


def _warn_if_schedule_missing() -> bool:
    """Warn on standard error when the next 60 days reach a year without a published schedule; True if none."""
    result = workdays.coverage(local_date(current_app.extensions["clock"].now()))
    if not result.ok:
        click.echo("警告：" + result.message, err=True)
    return result.ok


registry_cli = AppGroup("registry", help="Citizen and driving-licence registry.")


def _print_report(report: services.ImportReport, what: str) -> None:
    for line, message in report.errors:
        click.echo(f"第 {line} 行：{message}（该行未导入）", err=True)
    click.echo(f"{what}：新增 {report.created}，更新 {report.updated}，错误 {len(report.errors)}。")


def _run_import(func, path: str, what: str) -> None:
    """Run an import service; commit once what landed (a bad row wrote nothing), then report it."""
    session = get_session()
    now = current_app.extensions["clock"].now()
    try:
        report = func(session, Path(path), now)
    except services.BadRow as exc:
        session.rollback()
        click.echo(f"文件无法导入：{exc}", err=True)
        sys.exit(2)
    session.commit()
    _print_report(report, what)
    if report.errors:
        sys.exit(1)


@registry_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_citizens(file: str) -> None:
    """Import citizens from CSV (id_number,name,phone,address,photo) or JSON. Idempotent by ID number."""
    _run_import(partial(services.import_citizens, prepare_portrait=prepare_portrait), file, "人员导入")


@registry_cli.command("import-licences")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_licences(file: str) -> None:
    """Import driving-licence records from CSV or JSON. Idempotent by ID number."""
    # The e-licences of a changed record are invalidated by the import itself (a GET never writes).
    _run_import(partial(licences.import_records, notifier=current_app.extensions["notifier"]), file,
                "驾驶证档案导入")


@registry_cli.command("demo")
def demo() -> None:
    """Demo citizens and licences, a demo citizen account and one officer per role (SUISHEN_DEMO=1 only)."""
    if not current_app.config["SUISHEN_DEMO"]:
        click.echo("仅演示模式可用：请设置 SUISHEN_DEMO=1。", err=True)
        sys.exit(2)
    session = get_session()
    now = current_app.extensions["clock"].now()
    logins, warnings = demo_data.write_demo_data(session, secret_key=current_app.config["SECRET_KEY"], now=now)
    session.commit()
    click.echo("演示人口库（姓名  身份证号  预留手机号）：")
    for person in services.iter_demo_people(local_date(now)):
        click.echo(f"  {person['name']}  {person['id_number']}  {person['phone']}")
    for warning in warnings:
        click.echo(f"警告：{warning}", err=True)
    base = current_app.config["BASE_URL"]
    click.echo("演示账号（密码由 SECRET_KEY 派生，每次运行相同）：")
    for login in logins:
        state = "新建" if login.created else "已有"
        click.echo(f"  {login.label}：账号 {login.login}  密码 {login.password}  登录 {base}{login.url}（{state}）")
    click.echo("演示数据已写入。可在“演示：登记人像”页面为自己登记人像后体验实人核验。")
