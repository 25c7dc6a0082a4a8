"""GET the dispatcher's console: the page at /console, its scripts and styles at
/console/<version>/<file>. It reads no database: the page calls the other functions' JSON."""

from __future__ import annotations

import flask
import functions_framework

from shared.console import assets, page
from shared.console.assets import File
from shared.errors import NotFound
from shared.settings import get_settings
from shared.web.endpoint import Reply, endpoint

# A versioned URL never changes its bytes; the page is revalidated on every load (its ETag
# is the version and the sign-in settings) so a new deploy is seen at once.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@functions_framework.http
@endpoint
def console(request: flask.Request) -> Reply:
    files = assets.console()
    signin = page.sign_in(get_settings())
    if request.path == "/":
        served, etag = page.page(signin)
        shown = None if request.if_none_match.contains(etag) else served
        return _response(request, shown, csp=signin.csp, cache=REVALIDATE, etag=etag)
    version, _, name = request.path.removeprefix("/").partition("/")
    asset = files.assets.get(name) if version == files.version else None
    if asset is None:
        raise NotFound(
            f"no console file at {request.path}; open the console at its page",
            code="asset_not_found",
        )
    return _response(request, asset, csp=signin.csp, cache=IMMUTABLE)


def _response(
    request: flask.Request, file: File | None, *, csp: str, cache: str, etag: str | None = None
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
    # The page's policy is the one that counts; its files carry it too.
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if etag is not None:
        response.set_etag(etag)
    return response
