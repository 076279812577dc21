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


@db_cli.command("check")
def check() -> None:
    """Fail when the models and the migrations disagree."""
    from alembic import command

    command.check(migrate.alembic_config(current_app.config["DATABASE_URL"]))
    click.echo("模型与迁移一致。")
