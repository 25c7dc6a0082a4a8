"""The console's files, read from the package once per process: the page and its assets, each
with its gzip form, under one version (a hash of every file).

Asset URLs carry the version (`console/<version>/app.js`), so a browser may keep them for a
year: a changed file changes the version and so every URL. One version for all files rather
than a hash per file lets the ES modules import each other by plain relative names
(`./api.js`) with no rewriting: a module's URL is versioned through its folder.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

PAGE = "index.html"
# The page names its assets under this placeholder; the served page has the version there.
VERSION_PLACEHOLDER = "__VERSION__"
# What is served, by suffix; anything else under static/ (LICENSE, README) only ships.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class File:
    body: bytes
    gzipped: bytes
    content_type: str


@dataclass(frozen=True)
class Console:
    version: str
    page: File
    # Keyed by the path below static/ ("app.js", "vendor/uplot/uPlot.esm.js"): a lookup in
    # this mapping is the only way to a file, so no request path can reach another one.
    assets: dict[str, File]


def _served(root: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in root.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(_served(entry, name + "/"))
        elif any(name.endswith(suffix) for suffix in CONTENT_TYPES):
            found[name] = entry.read_bytes()
    return found


def make_file(name: str, body: bytes) -> File:
    content_type = next(t for suffix, t in CONTENT_TYPES.items() if name.endswith(suffix))
    # mtime=0: the same bytes on every instance, whatever the clock.
    return File(body, gzip.compress(body, compresslevel=9, mtime=0), content_type)


@functools.cache
def console() -> Console:
    files = _served(resources.files("shared.console").joinpath("static"))
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    version = digest.hexdigest()[:12]
    page = files.pop(PAGE).replace(VERSION_PLACEHOLDER.encode(), version.encode())
    return Console(
        version=version,
        page=make_file(PAGE, page),
        assets={name: make_file(name, body) for name, body in files.items()},
    )
