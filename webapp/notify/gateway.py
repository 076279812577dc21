"""How SMS and Web Push leave the server.

SMS goes through an :class:`SmsGateway`. The embedded default, :class:`OutboxGateway`, sends nothing: the
``sms_messages`` row written for every message is the outbox, which administrators read on the officer page
and with ``flask --app app sms outbox`` (and tests read directly). A deployment names its own gateway class in
``SUISHEN_SMS_GATEWAY`` (``package.module:Class``, constructed with the app config) — e.g. a provider's HTTP API.

Web Push uses pywebpush with the VAPID keys from the settings; it runs after the database commit (a rolled-back
decision must not notify anyone) and a failed push never fails the request.
"""
from __future__ import annotations

import importlib
import json
import logging
from typing import Protocol

log = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway could not take the message."""


class SmsGateway(Protocol):
    name: str

    def send(self, phone: str, body: str) -> str | None:
        """Hand one message to the provider; return its reference or None. Raise :class:`SmsError` on failure."""


class OutboxGateway:
    """Embedded default: the message stays in the outbox table."""

    name = "outbox"

    def __init__(self, config=None) -> None:
        pass

    def send(self, phone: str, body: str) -> str | None:
        return None


def load_sms_gateway(config) -> SmsGateway:
    spec = config.get("SUISHEN_SMS_GATEWAY") or "outbox"
    if spec == "outbox":
        return OutboxGateway(config)
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise RuntimeError("SUISHEN_SMS_GATEWAY must be 'outbox' or 'package.module:Class'.")
    return getattr(importlib.import_module(module_name), class_name)(config)


class WebPush:
    """Sends Web Push messages with VAPID (RFC 8292) and aes128gcm (RFC 8291) through pywebpush."""

    def __init__(self, config) -> None:
        self.public_key = config.get("SUISHEN_VAPID_PUBLIC_KEY") or ""
        self.private_key = config.get("SUISHEN_VAPID_PRIVATE_KEY") or ""
        self.subject = config.get("SUISHEN_VAPID_SUBJECT") or "mailto:admin@localhost"
        self.timeout = 5

    @property
    def enabled(self) -> bool:
        return bool(self.public_key and self.private_key)

    def send(self, subscription: dict, payload: dict) -> int | None:
        """POST one encrypted message; the push service's HTTP status, or None when it could not be reached.
        404/410 mean the subscription is gone."""
        from pywebpush import WebPushException, webpush

        try:
            response = webpush(subscription, json.dumps(payload, ensure_ascii=False),
                               vapid_private_key=self.private_key, vapid_claims={"sub": self.subject},
                               timeout=self.timeout, ttl=24 * 3600)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            log.warning("web push to %s failed: %s", subscription.get("endpoint", "")[:60], status or exc)
            return status
        except Exception as exc:  # network errors: a push is best-effort, the in-app message and SMS remain
            log.warning("web push to %s failed: %s", subscription.get("endpoint", "")[:60], exc)
            return None
        return response.status_code
