from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from webapp import migrate

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
    from alembic import command

    command.check(migrate.alembic_config(current_app.config["DATABASE_URL"]))
    click.echo("模型与迁移一致。")


workdays_cli = AppGroup("workdays", help="Chinese working days: the State Council holiday schedule.")


@workdays_cli.command("check")
def check_workdays() -> None:
    """Say which years the loaded schedule covers; exit 1 when the next 60 days are not covered."""
    from webapp import workdays

    schedule = workdays.current_schedule()
    click.echo("已录入国务院节假日安排的年份：" + "、".join(str(y) for y in sorted(schedule.years)))
    if not _warn_if_schedule_missing():
        raise SystemExit(1)
    click.echo(f"未来 {workdays.COVERAGE_HORIZON.days} 天均有已发布的安排。")


def _warn_if_schedule_missing() -> bool:
    """Warn on standard error when the next 60 days reach a year without a published schedule; True if none."""
    from webapp import workdays
    from webapp.timeutil import local_date

    result = workdays.coverage(local_date(current_app.extensions["clock"].now()))
    if not result.ok:
        click.echo("警告：" + result.message, err=True)
    return result.ok
