"""Web Push reaches only public push services (issue 12, point 3; SPEC §8), over HTTP with CSRF on, on both
databases. The machine has no outside network, so DNS is a stand-in resolver handed to the gateway (named as
such); every connection a test makes or expects is to a socket it listens on at 127.0.0.1."""
from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from tests.factories import CitizenFactory, UserFactory
from tests.http.test_account_variants_http import PushReceiver, login, subscribe, unverified_user
from webapp.db import get_session
from webapp.notify.gateway import WebPush
from webapp.notify.models import PushSubscription
from webapp.notify.rules import PushEndpointPolicy


class StandInResolver:
    """DNS for the test: a fixed answer per host name, and a record of what was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return list(self.answers.get(host, []))


class ConnectionRecorder:
    """A real listening socket on 127.0.0.1 that counts every TCP connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _vapid(app) -> None:
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    app.config.update(SUISHEN_VAPID_PUBLIC_KEY=b64(public), SUISHEN_VAPID_PRIVATE_KEY=b64(private))


@pytest.fixture
def dns():
    return StandInResolver({
        "fcm.googleapis.com": ["142.250.72.10", "2607:f8b0:4005:80b::200a"],
        "updates.push.services.mozilla.com": ["127.0.0.1"],      # a poisoned / rebound answer
        "web.push.apple.com": ["17.253.1.1", "10.0.0.7"],          # one public, one private
        "push.example.org": ["10.1.2.3"],
        "localhost.example.org": ["::1"],
    })


@pytest.fixture
def web_push(app, dns):
    """The app's gateway with the real default policy (the settings' allow-list, https, 443, public addresses
    only) and the stand-in resolver."""
    _vapid(app)
    push = app.extensions["notifier"].web_push = WebPush(app.config, resolver=dns)
    return push


def _browser_keys() -> dict:
    """A browser's subscription keys (a P-256 public key and a 16-byte auth secret), so a push would encrypt."""
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    return {"p256dh": b64(public), "auth": b64(b"0123456789abcdef")}


KEYS = _browser_keys()


def _subscribe(client, auth, db_session, endpoint: str):
    user = unverified_user(db_session)
    login(auth, user)
    return subscribe(client, {"endpoint": endpoint, "keys": KEYS})


@pytest.mark.parametrize("endpoint", [
    "https://127.0.0.1:8443/push/1",
    "https://127.0.0.1/push/1",
    "https://10.0.0.1/push/1",
    "https://[::1]/push/1",
    "https://[::ffff:127.0.0.1]/push/1",
    "https://localhost/push/1",
    "https://2130706433/push/1",                       # 127.0.0.1 as one number
    "https://updates.push.services.mozilla.com/wpush/v2/x",   # allowed host, resolves to loopback
    "https://web.push.apple.com/QGx",                  # allowed host, one of its addresses private
    "https://fcm.googleapis.com:8443/fcm/send/x",      # allowed host, another port
    "https://user:pw@fcm.googleapis.com/fcm/send/x",   # userinfo
    "http://fcm.googleapis.com/fcm/send/x",            # not https
    "https://push.example.org/x",                      # not a push service
    "https://fcm.googleapis.com/" + "x" * 1000,        # too long
])
def test_a_subscription_to_an_internal_or_unknown_address_is_refused_with_json_400(
        client, auth, db_session, web_push, endpoint):
    resp = _subscribe(client, auth, db_session, endpoint)
    assert resp.status_code == 400 and resp.is_json
    assert resp.get_json() == {"error": "bad_subscription", "message": (
        "推送订阅无效：只接受浏览器推送服务的 HTTPS 地址。请在浏览器中关闭后重新开启消息推送。")}
    assert db_session.scalar(select(func.count(PushSubscription.id))) == 0


def test_without_the_allow_list_the_address_check_alone_refuses_internal_names(client, auth, db_session, app, dns):
    _vapid(app)
    app.extensions["notifier"].web_push = WebPush(app.config, resolver=dns,
                                                 policy=PushEndpointPolicy(allowed_hosts=()))
    for endpoint in ("https://push.example.org/x", "https://localhost.example.org/x",
                     "https://nxdomain.example/x"):
        resp = _subscribe(client, auth, db_session, endpoint)
        # Control characters are refused by the request guard before the view (bad_characters); the rest by the
        # subscription rules (bad_subscription). Either way a JSON 400 and nothing stored.
        assert resp.status_code == 400, endpoint
        assert resp.get_json()["error"] in {"bad_subscription", "bad_characters"}, endpoint
    assert db_session.scalar(select(func.count(PushSubscription.id))) == 0
    ok = subscribe(client, {"endpoint": "https://fcm.googleapis.com/fcm/send/ok", "keys": KEYS})
    assert ok.status_code == 200


def test_a_real_push_service_endpoint_is_accepted(client, auth, db_session, web_push, dns):
    endpoint = "https://fcm.googleapis.com/fcm/send/dGhpcyBpcyBh:APA91bExample"
    assert _subscribe(client, auth, db_session, endpoint).get_json() == {"subscribed": True}
    assert db_session.scalar(select(PushSubscription.endpoint)) == endpoint
    assert dns.asked == ["fcm.googleapis.com"]


def test_the_settings_allow_list_and_timeout_are_the_documented_defaults(app):
    push = WebPush(app.config)
    assert push.policy == PushEndpointPolicy(allowed_hosts=(
        "fcm.googleapis.com", "updates.push.services.mozilla.com", "*.push.apple.com", "*.notify.windows.com"))
    assert push.timeout == (5.0, 5.0)
    app.config["SUISHEN_PUSH_ALLOWED_HOSTS"] = ""
    assert WebPush(app.config).policy.allowed_hosts == ()


# --- Send time: a stored subscription is checked again, against DNS as it is now -----------------------------
@pytest.fixture
def recorder():
    listener = ConnectionRecorder()
    yield listener
    listener.close()


def _notify_one(app, db_session, endpoints: list[str]) -> None:
    """Store subscriptions directly (as from before the check existed), then send a notice through the app's
    services and commit: the after-commit hook sends the pushes."""
    user = UserFactory(citizen=CitizenFactory())
    for endpoint in endpoints:
        db_session.add(PushSubscription(user_id=user.id, endpoint=endpoint, created_at=user.created_at, **KEYS))
    db_session.commit()
    with app.test_request_context():
        session = get_session()
        citizen = session.get(type(user.citizen), user.citizen_id)
        app.extensions["notifier"].notify(session, citizen, "审核通过。", app.extensions["clock"].now())
        session.commit()


def test_a_stored_subscription_to_loopback_is_never_connected_to(app, db_session, web_push, recorder, dns,
                                                                 caplog):
    dns.answers["rebound.notify.windows.com"] = ["127.0.0.1"]
    stored = [f"https://127.0.0.1:{recorder.port}/push/1", f"http://127.0.0.1:{recorder.port}/push/2",
              f"https://[::ffff:127.0.0.1]:{recorder.port}/push/3", f"https://localhost:{recorder.port}/push/4",
              f"https://[::1]:{recorder.port}/push/5",
              # an allowed push-service name that resolves to loopback now (re-pointed after subscribing)
              f"https://rebound.notify.windows.com:{recorder.port}/w/?token=1"]
    _notify_one(app, db_session, stored)      # the app's own gateway, through notify() and the commit hook
    refused = [r.getMessage() for r in caplog.records if " refused: " in r.getMessage()]
    assert len(refused) == len(stored)        # each stored subscription was tried, and refused
    # The same endpoints with the port rule lifted, so the address check alone has to refuse them.
    any_port = WebPush(app.config, resolver=dns, policy=PushEndpointPolicy(ports=None))
    for endpoint in stored:
        assert any_port.send({"endpoint": endpoint, "keys": KEYS}, {"body": "x"}) is None
    assert recorder.connections == 0
    # The control: the same listener does count a connection when a policy lets one through, so the zero
    # above is not a listener that cannot see anything.
    open_policy = WebPush(app.config, resolver=dns, policy=PushEndpointPolicy(ports=None, public_only=False))
    open_policy.send({"endpoint": stored[-1], "keys": KEYS}, {"body": "x"})
    assert recorder.connections == 1


# --- Pinning: the connection goes to the address that was checked, TLS still to the name ---------------------
def _tls_receiver(tmp_path, name: str):
    """An HTTPS push receiver on 127.0.0.1 with a certificate for ``name`` from a CA made here."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Suishen test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, str(ca_file), received


def test_a_push_connects_to_the_checked_address_and_verifies_tls_against_the_name(app, tmp_path):
    """``push.test`` does not exist in the system's DNS: a delivery proves the connection used the address the
    stand-in resolver gave (and the check approved), while SNI, the certificate and the Host header name the
    push service. A certificate for another name is refused and nothing is delivered."""
    _vapid(app)
    server, ca_file, received = _tls_receiver(tmp_path, "push.test")
    try:
        receiver = PushReceiver()   # its keys encrypt the payload; its own http endpoint is not used
        subscription = {**receiver.subscription(), "endpoint": f"https://push.test:{server.server_port}/p/1"}
        receiver.close()
        dns = StandInResolver({"push.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        policy = PushEndpointPolicy(allowed_hosts=("push.test", "other.test"), ports=None, public_only=False)
        push = WebPush(app.config, resolver=dns, policy=policy, verify=ca_file)
        assert push.send(subscription, {"body": "审核通过。"}) == 201
        (headers,) = received
        assert headers["host"] == f"push.test:{server.server_port}" and headers["content-encoding"] == "aes128gcm"
        wrong_name = {**subscription, "endpoint": f"https://other.test:{server.server_port}/p/1"}
        assert push.send(wrong_name, {"body": "x"}) is None
        assert len(received) == 1
        assert dns.asked == ["push.test", "other.test"]
    finally:
        server.shutdown()
        server.server_close()


def test_the_stored_endpoint_is_checked_again_right_before_each_send(app, db_session, web_push, dns):
    """Subscribed while its name pointed at a public address; the name now points inside: the next push is
    refused (fresh DNS per push), and the subscription is simply not used."""
    dns.answers["wns2-par02p.notify.windows.com"] = ["52.1.1.1"]
    endpoint = "https://wns2-par02p.notify.windows.com/w/?token=abc"
    web_push.check_endpoint(endpoint)
    dns.answers["wns2-par02p.notify.windows.com"] = ["169.254.169.254"]   # the cloud metadata address
    assert web_push.send({"endpoint": endpoint, "keys": KEYS}, {"body": "x"}) is None
    assert dns.asked == ["wns2-par02p.notify.windows.com"] * 2


def test_subscribe_json_bodies_are_refused_without_a_500(client, auth, db_session, web_push):
    user = unverified_user(db_session)
    login(auth, user)
    for endpoint in ("https://fcm.googleapis.com:99999/x", "https://[::1/x", "https://fcm.googleapis.com\x00/x",
                     "https://fcm.googleapis.com/\r\nHost: x", "https://%31%32%37.0.0.1/x", "https://./x"):
        resp = subscribe(client, {"endpoint": endpoint, "keys": KEYS})
        # Control characters are refused by the request guard before the view (bad_characters); the rest by the
        # subscription rules (bad_subscription). Either way a JSON 400 and nothing stored.
        assert resp.status_code == 400, endpoint
        assert resp.get_json()["error"] in {"bad_subscription", "bad_characters"}, endpoint
    assert db_session.scalar(select(func.count(PushSubscription.id))) == 0
