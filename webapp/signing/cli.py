"""`flask --app app keys init|list|rotate|prune`: the signing keys of credential tokens (instance/signing_keys)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.signing import keys
from webapp.timeutil import format_local

keys_cli = AppGroup("keys", help="Signing keys of the QR tokens (offline verification).")

STATE_LABELS = {"pending": "待启用", "signing": "签名中", "retired": "已停用（仍公布）", "unpublished": "已停止公布"}


def _folder() -> Path:
    return Path(current_app.config["SUISHEN_SIGNING_KEYS"])


def _now():
    return current_app.extensions["clock"].now()


@keys_cli.command("init")
def init() -> None:
    """Create the first signing key if the folder has none (`make run` does this)."""
    key = keys.init_keys(_folder(), _now())
    click.echo(f"已创建签名密钥 {key.kid}（{_folder()}）。" if key else f"已有签名密钥（{_folder()}），未新建。")


@keys_cli.command("list")
def list_keys() -> None:
    """Every key in the folder: its id, state, from when it signs and until when it is published."""
    now = _now()
    grace = current_app.config["SUISHEN_QR_GRACE_WINDOWS"]
    for state in keys.key_states(keys.load_keys(_folder()), now, grace):
        until = format_local(state.published_until, "%Y-%m-%d %H:%M:%S") if state.published_until else "—"
        click.echo(f"{state.key.kid}\t{STATE_LABELS[state.state]}\t签名自 "
                   f"{format_local(state.key.not_before, '%Y-%m-%d %H:%M:%S')}\t公布至 {until}")


@keys_cli.command("rotate")
@click.option("--now", "immediately", is_flag=True,
              help="Sign with the new key at once (a key was exposed) instead of after the offline status age.")
def rotate(immediately: bool) -> None:
    """Create the next key: published at once, signing after SUISHEN_OFFLINE_STATUS_MAX_AGE (or --now). The old
    key stays published until the last token it signed has expired."""
    prepublish = timedelta(seconds=current_app.config["SUISHEN_OFFLINE_STATUS_MAX_AGE"])
    try:
        key = keys.rotate(_folder(), _now(), prepublish, immediately=immediately)
    except keys.KeyAdminError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已创建签名密钥 {key.kid}，自 {format_local(key.not_before, '%Y-%m-%d %H:%M:%S')} 起签名。")


@keys_cli.command("prune")
@click.option("--keep-days", default=30, show_default=True, type=click.IntRange(0, 3650),
              help="Keep an unpublished key this long for offline scans uploaded late.")
def prune(keep_days: int) -> None:
    """Delete keys that have not been published for --keep-days."""
    gone = keys.prune(_folder(), _now(), current_app.config["SUISHEN_QR_GRACE_WINDOWS"], timedelta(days=keep_days))
    click.echo("已删除：" + "、".join(gone) if gone else "没有可删除的密钥。")
