"""GET the dispatcher's console: the page at /console, its scripts and styles at
/console/<version>/<file>. It reads no database: the page calls the other functions' JSON."""

from __future__ import annotations

import flask
import functions_framework

from shared.console import assets
from shared.console.assets import File
from shared.errors import NotFound
from shared.web.endpoint import Reply, endpoint

# Scripts, styles and everything else from this origin only; no inline code, no framing, no
# plugins, no <base> to redirect relative URLs, no form posting elsewhere.
CSP = (
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "object-src 'none'"
)
# A versioned URL never changes its bytes; the page is revalidated on every load (its ETag
# is the version) so a new deploy is seen at once.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@functions_framework.http
@endpoint
def console(request: flask.Request) -> Reply:
    files = assets.console()
    if request.path == "/":
        if request.if_none_match.contains(files.version):
            return _response(request, None, cache=REVALIDATE, etag=files.version)
        return _response(request, files.page, cache=REVALIDATE, etag=files.version)
    version, _, name = request.path.removeprefix("/").partition("/")
    asset = files.assets.get(name) if version == files.version else None
    if asset is None:
        raise NotFound(
            f"no console file at {request.path}; open the console at its page",
            code="asset_not_found",
        )
    return _response(request, asset, cache=IMMUTABLE)


def _response(
    request: flask.Request, file: File | None, *, cache: str, etag: str | None = None
) -> flask.Response:
    if file is None:
        response = flask.Response(status=304)
    elif request.accept_encodings["gzip"] > 0:
        response = flask.Response(file.gzipped, content_type=file.content_type)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = flask.Response(file.body, content_type=file.content_type)
    response.headers["Cache-Control"] = cache
    # The body depends on Accept-Encoding: caches keep one per encoding.
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if etag is not None:
        response.set_etag(etag)
    return response
