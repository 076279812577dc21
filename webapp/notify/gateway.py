"""How SMS and Web Push leave the server.

SMS goes through an :class:`SmsGateway`. The embedded default, :class:`OutboxGateway`, sends nothing: the
``sms_messages`` row written for every message is the outbox, which administrators read on the officer page
and with ``flask --app app sms outbox`` (and tests read directly). A deployment names its own gateway class in
``SUISHEN_SMS_GATEWAY`` (``package.module:Class``, constructed with the app config) — e.g. a provider's HTTP API.

Web Push uses pywebpush with the VAPID keys from the settings; it runs after the database commit (a rolled-back
decision must not notify anyone) and a failed push never fails the request. A push goes only to a public push
service (SPEC §8, issue 12): :meth:`WebPush.send` checks the endpoint, resolves its host right then, refuses it
unless every address is public, and connects to the address it checked (see :class:`PinnedAdapter`).
"""
from __future__ import annotations

import importlib
import json
import logging
import socket
from typing import Callable, Protocol

from webapp.notify import rules

Resolver = Callable[[str, int], list[str]]

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


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection (the system resolver); [] when it does not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


def _pinned_adapter_class():
    from requests.adapters import HTTPAdapter

    class PinnedAdapter(HTTPAdapter):
        """A requests adapter that connects to one checked address whatever DNS says by then (no rebinding
        between the check and the connection), while TLS still uses the host name: SNI and the certificate's
        name are checked against ``host`` (urllib3's ``server_hostname``/``assert_hostname``), and the Host
        header names it. It serves that one host only: a request elsewhere (a redirect) is refused."""

        def __init__(self, target: rules.PushTarget, address: str) -> None:
            super().__init__(max_retries=0)
            self.target, self.address = target, address

        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            if (host_params["host"].strip("[]").lower().rstrip("."), host_params["port"] or
                    {"https": 443, "http": 80}[host_params["scheme"]]) != (self.target.host, self.target.port):
                raise rules.BadPushEndpoint(f"request to {host_params['host']} instead of {self.target.host}")
            host_params["host"] = self.address
            if host_params["scheme"] == "https":
                pool_kwargs["server_hostname"] = self.target.host
                pool_kwargs["assert_hostname"] = self.target.host
            return host_params, pool_kwargs

        def send(self, request, **kwargs):
            default = {"https": 443, "http": 80}[self.target.scheme] == self.target.port
            host = f"[{self.target.host}]" if ":" in self.target.host else self.target.host
            request.headers["Host"] = host if default else f"{host}:{self.target.port}"
            return super().send(request, **kwargs)

    return PinnedAdapter


class WebPush:
    """Sends Web Push messages with VAPID (RFC 8292) and aes128gcm (RFC 8291) through pywebpush, only to public
    push services.

    :param policy: where pushes may go (default from the settings: the push-service allow-list, public
        addresses, https on 443); tests delivering to a loopback receiver pass a looser one
    :param resolver: ``(host, port) -> addresses``; tests pass a stand-in (the machine has no outside network)
    :param verify: requests' ``verify`` (a CA bundle path for a test's own TLS receiver)
    """

    def __init__(self, config, *, policy: rules.PushEndpointPolicy | None = None, resolver: Resolver | None = None,
                 verify: bool | str = True) -> None:
        self.public_key = config.get("SUISHEN_VAPID_PUBLIC_KEY") or ""
        self.private_key = config.get("SUISHEN_VAPID_PRIVATE_KEY") or ""
        self.subject = config.get("SUISHEN_VAPID_SUBJECT") or "mailto:admin@localhost"
        self.policy = policy or rules.PushEndpointPolicy.from_config(config)
        self.resolver = resolver or resolve
        self.verify = verify
        seconds = float(config.get("SUISHEN_PUSH_TIMEOUT") or 5)
        self.timeout = (seconds, seconds)   # connect, read

    @property
    def enabled(self) -> bool:
        return bool(self.public_key and self.private_key)

    def check_endpoint(self, endpoint: str) -> tuple[rules.PushTarget, str]:
        """The endpoint's target and the address to connect to, from a fresh DNS answer.

        :raises rules.BadPushEndpoint: the URL, its host or one of its addresses is refused by the policy
        """
        target = rules.push_target(endpoint, self.policy)
        literal = rules.ip_literal(target.host)
        addresses = [literal] if literal else self.resolver(target.host, target.port)
        return target, rules.check_push_addresses(target, addresses, self.policy)

    def send(self, subscription: dict, payload: dict) -> int | None:
        """POST one encrypted message; the push service's HTTP status, or None when it could not be reached or
        its endpoint is refused (checked here, right before connecting, against DNS as it is now: a stored
        subscription may predate the check, and a name may have been re-pointed since it was stored).
        404/410 mean the subscription is gone."""
        import requests
        from pywebpush import WebPushException, webpush

        endpoint = subscription.get("endpoint", "")
        try:
            target, address = self.check_endpoint(endpoint)
        except rules.BadPushEndpoint as exc:
            log.warning("web push to %s refused: %s", str(endpoint)[:60], exc.reason)
            return None
        with requests.Session() as http:
            http.trust_env = False  # no proxy from the environment: the connection goes where it was checked
            http.verify = self.verify
            http.max_redirects = 0
            http.mount(f"{target.scheme}://", _pinned_adapter_class()(target, address))
            try:
                response = webpush(subscription, json.dumps(payload, ensure_ascii=False),
                                   vapid_private_key=self.private_key, vapid_claims={"sub": self.subject},
                                   timeout=self.timeout, ttl=24 * 3600, requests_session=http)
            except WebPushException as exc:
                status = exc.response.status_code if exc.response is not None else None
                log.warning("web push to %s failed: %s", endpoint[:60], status or exc)
                return status
            except rules.BadPushEndpoint as exc:
                log.warning("web push to %s refused: %s", endpoint[:60], exc.reason)
                return None
            except Exception as exc:  # noqa: BLE001 - network errors: a push is best-effort, the in-app message and SMS remain
                log.warning("web push to %s failed: %s", endpoint[:60], exc)
                return None
        return response.status_code
