"""`flask --app app sms outbox` and `flask --app app push vapid-keys`."""
from __future__ import annotations

import base64

import click
from flask.cli import AppGroup

from webapp.db import get_session
from webapp.notify import services
from webapp.timeutil import format_local

sms_cli = AppGroup("sms", help="The SMS outbox of the embedded gateway.")
push_cli = AppGroup("push", help="Web Push set-up.")


@sms_cli.command("outbox")
@click.option("--phone", default=None, help="Only messages to this phone number.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def outbox(phone: str | None, limit: int) -> None:
    """Print the newest SMS messages (newest first)."""
    for message in services.outbox(get_session(), phone=phone, limit=limit):
        click.echo(f"{format_local(message.created_at)}\t{message.phone}\t{message.purpose}\t{message.body}")


@push_cli.command("vapid-keys")
def vapid_keys() -> None:
    """Print a new VAPID key pair as the two settings lines (keep the private key secret)."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    raw_public = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    raw_private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    click.echo(f"SUISHEN_VAPID_PUBLIC_KEY={b64(raw_public)}")
    click.echo(f"SUISHEN_VAPID_PRIVATE_KEY={b64(raw_private)}")
