"""The test live server itself (tests/e2e/conftest.py): a browser that drops a connection mid-response must not
leave an open file behind, whose ResourceWarning would fail whichever test runs next (seen once in CI)."""
from __future__ import annotations

import gc
import socket
import struct
import time
import warnings
from urllib.parse import urlsplit


def test_a_connection_dropped_mid_response_leaves_no_file_open(live_server):
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    version = live_server.app.config["ASSET_VERSION"]
    request = (f"GET /static/icons/icon-512.png?v={version} HTTP/1.1\r\nHost: {host}\r\n"
               "Accept-Encoding: identity\r\n\r\n").encode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):
            with socket.create_connection((host, port)) as conn:
                conn.sendall(request)
                assert conn.recv(64).startswith(b"HTTP/1.1 200")
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN
        time.sleep(0.5)  # the server's handler threads see the reset and end
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
