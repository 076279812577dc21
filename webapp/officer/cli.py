"""`flask --app app officer create` and `flask --app app apikey create` (SPEC §9)."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from webapp import roles
from webapp.db import get_session
from webapp.errors import DomainError
from webapp.officer import rules, services

officer_cli = AppGroup("officer", help="Officer accounts (railway, police, traffic, reviewer, admin).")
apikey_cli = AppGroup("apikey", help="API keys for gates and third parties.")


def _read_password() -> str:
    """From a terminal: asked twice, hidden. Otherwise the first line of standard input (scripts, pipes)."""
    stdin = sys.stdin  # not click.get_text_stream: deprecated by Click (a warning, an error in tests)
    if stdin.isatty():
        return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    return stdin.readline().rstrip("\r\n")


@officer_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(roles.ROLES), help="railway|police|traffic|reviewer|admin")
def create_officer(username: str, role: str) -> None:
    """Create an officer; the password is read from standard input (at least 10 characters, letters and digits)."""
    password = _read_password()
    session = get_session()
    try:
        officer = services.create_officer(session, username=username, password=password, role=role,
                                          now=current_app.extensions["clock"].now())
    except DomainError as exc:
        session.rollback()
        click.echo(f"未创建：{exc.user_message}", err=True)
        sys.exit(1)
    session.commit()
    click.echo(f"已创建工作人员 {officer.username}（{officer.role_label}）。")


@apikey_cli.command("create")
@click.argument("name")
@click.option("--scope", required=True, type=click.Choice(rules.SCOPES))
def create_apikey(name: str, scope: str) -> None:
    """Create an API key and print it once (only its SHA-256 is stored)."""
    session = get_session()
    try:
        key, raw = services.create_api_key(session, name=name, scope=scope, now=current_app.extensions["clock"].now())
    except DomainError as exc:
        session.rollback()
        click.echo(f"未创建：{exc.user_message}", err=True)
        sys.exit(1)
    session.commit()
    click.echo(raw)
    click.echo(f"已创建 API 密钥「{key.name}」（前缀 {key.prefix}，范围 {key.scope}）。请立即保存：密钥只显示这一次。",
               err=True)


@apikey_cli.command("revoke")
@click.argument("prefix")
def revoke_apikey(prefix: str) -> None:
    """Revoke the active key whose display prefix is PREFIX (e.g. ssk_AbCdEfGh)."""
    session = get_session()
    try:
        key = services.revoke_api_key(session, prefix, current_app.extensions["clock"].now())
    except DomainError as exc:
        session.rollback()
        click.echo(exc.user_message, err=True)
        sys.exit(1)
    session.commit()
    click.echo(f"已吊销 API 密钥「{key.name}」。")
