"""Static assets: one digest over the shipped files names the service-worker cache and busts URLs (``?v=``), and
WhiteNoise serves /static/ compressed and cached (issue 16 audit: nothing was compressed, and versioned files were
re-validated on every load).

At start the app copies static/ once per version into ``instance/static-build/<version>/`` with a ``.gz`` (and a
``.br`` when the brotli module is there) next to every file worth compressing; WhiteNoise answers from that copy
with the encoding the browser accepts. A URL of the current version (``?v=<digest>``, what ``asset_url`` writes) may
be cached for a year as immutable: a new release has a new digest, so a new URL. Any other (no ``v``, an older
``v``, sw.js's shell list aside) is ``no-cache``: revalidated with its ETag. When the copy cannot be written (a
read-only instance folder) the files are served from static/ as they are, uncompressed. (The service worker itself
is not a static file: the /sw.js route renders templates/shell/sw.js with this version.)
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from flask import Flask, current_app, url_for
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

log = logging.getLogger(__name__)

SHELL_FILES = ("css/app.css", "js/app.js", "icons/icon-192.png", "icons/icon-512.png",
               "icons/icon-maskable-512.png", "icons/apple-touch-icon.png")
# What the officer scan page needs offline (templates/verification/scan.html names these with ?v=), and the modules its
# scripts import by relative URL (without ?v=). The service worker keeps them once an officer opened the page.
SCAN_FILES = ("css/verify.css", "vendor/jsQR-1.4.0.js", "vendor/zxing-library-0.23.0.min.js", "js/scan.js")
SCAN_MODULES = ("js/i18n.js", "js/offline_verify.js", "vendor/tiny-cbor-0.3.6/cbor.js",
                "vendor/tiny-cbor-0.3.6/cbor_internal.js")
#: Cache-Control of a URL that names the current asset version: a year (RFC 9111's practical maximum), immutable.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
#: ... and of any other static URL: may be stored, always revalidated (ETag / Last-Modified).
UNVERSIONED_CACHE = "no-cache"
#: Builds of older versions kept next to the current one (a worker of the previous release may still read its own).
KEEP_BUILDS = 3


def compute_version(static_folder: str) -> str:
    digest = hashlib.sha256()
    root = Path(static_folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_static(static_folder: str, build_root: Path, version: str) -> Path:
    """``build_root/version``: a copy of static/ with its compressed variants, made once (by whichever process of
    the release gets there first: built aside, then renamed into place)."""
    target = build_root / version
    if target.is_dir():
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=build_root, prefix=f".{version}-"))
    shutil.copytree(static_folder, staging, dirs_exist_ok=True)
    compressor = Compressor(quiet=True)
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        if compressor.should_compress(path.name):
            compressor.compress(str(path))
    try:
        os.rename(staging, target)
    except OSError:  # another worker renamed its build first: same files
        shutil.rmtree(staging, ignore_errors=True)
    builds = sorted((p for p in build_root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP_BUILDS:]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _static_headers(headers, path: str, url: str) -> None:
    headers["Cache-Control"] = UNVERSIONED_CACHE
    headers["X-Content-Type-Options"] = "nosniff"


class VersionedStatic(WhiteNoise):
    """WhiteNoise for ``/static/``, with a year of caching for a request of exactly ``?v=<current version>``."""

    def __init__(self, application, root: str, version: str):
        super().__init__(application, root=root, prefix="static/", max_age=None,
                         add_headers_function=_static_headers)
        self.versioned_query = f"v={version}"

    def __call__(self, environ, start_response):
        if (environ.get("QUERY_STRING") == self.versioned_query
                and environ.get("PATH_INFO", "").startswith("/static/")):
            def start_versioned(status, headers, exc_info=None):
                if status[:3] in ("200", "304"):
                    headers = [(k, v) for k, v in headers if k.lower() != "cache-control"]
                    headers.append(("Cache-Control", VERSIONED_CACHE))
                return start_response(status, headers, exc_info)

            return super().__call__(environ, start_versioned)
        return super().__call__(environ, start_response)


def asset_url(filename: str) -> str:
    """The URL of a static file at the current version (``?v=``), which may be cached for a year."""
    return url_for("static", filename=filename, v=current_app.config["ASSET_VERSION"])


def init_app(app: Flask) -> None:
    version = compute_version(app.static_folder)
    app.config["ASSET_VERSION"] = version
    root = app.static_folder
    try:
        root = str(build_static(app.static_folder, Path(app.instance_path) / "static-build", version))
    except OSError as exc:
        log.warning("static files served uncompressed: cannot build %s (%s)", app.instance_path, exc)
    app.wsgi_app = VersionedStatic(app.wsgi_app, root, version)
    app.jinja_env.globals["asset_url"] = asset_url
