"""Static asset versioning: one digest over the files under static/ names the service-worker cache and busts URLs.
(The service worker itself is not a static file: the /sw.js route renders templates/shell/sw.js with this version.)"""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, url_for

SHELL_FILES = ("css/app.css", "js/app.js", "icons/icon-192.png", "icons/icon-512.png",
               "icons/icon-maskable-512.png", "icons/apple-touch-icon.png")


def compute_version(static_folder: str) -> str:
    digest = hashlib.sha256()
    root = Path(static_folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def init_app(app: Flask) -> None:
    version = compute_version(app.static_folder)
    app.config["ASSET_VERSION"] = version

    def asset_url(filename: str) -> str:
        return url_for("static", filename=filename, v=version)

    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["asset_version"] = version
