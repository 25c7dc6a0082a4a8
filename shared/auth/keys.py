"""An issuer's signing keys, fetched from its JWKS (RFC 7517) and kept between requests.

Why not PyJWT's own PyJWKClient cache: once its cached set expires, every request refetches
until a fetch succeeds, so an issuer outage means a blocking fetch per request and no key at
all, even the ones that were good a second before. Here PyJWKClient only fetches and parses;
the policy is ours:

- keys are reused for MAX_AGE_SECONDS, then refetched (a key the issuer withdrew goes away);
- an unknown `kid` triggers a refetch (the issuer rotated), but there is at most one fetch per
  MIN_FETCH_INTERVAL_SECONDS whatever happens, so a stream of made-up kids (or an issuer that
  is down) costs the issuer one request per interval, not one per call;
- a failed fetch keeps the keys already held: tokens signed by them still verify;
- while one request refreshes a set gone stale, the others go on with the keys held.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWTError

from shared.errors import Unauthenticated

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 300.0  # as long as API Gateway caches the same keys
MIN_FETCH_INTERVAL_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 5.0
# Only keys that can check an RS256 signature: an `oct` key in the set would otherwise turn
# into an HMAC secret, and an EC key would not fit the one algorithm tokens may use.
ALGORITHM = "RS256"


class SigningKeys:
    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        # cache_jwk_set=False: the client only fetches (no redirects followed) and parses.
        self._client = PyJWKClient(url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_SECONDS)
        self._url = url
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = -math.inf  # last successful fetch
        self._attempted_at = -math.inf  # last fetch, successful or not
        self._lock = threading.Lock()

    def get(self, kid: str) -> PyJWK:
        """The public key named `kid`, or Unauthenticated if the issuer has none by that name."""
        key = self._keys.get(kid)
        if key is not None and self._clock() - self._fetched_at < MAX_AGE_SECONDS:
            return key
        # A stale set is refreshed by whoever gets the lock first, the others use what they
        # have; an unknown kid waits for the fetch in progress (or makes one).
        if self._lock.acquire(blocking=key is None):
            try:
                self._refresh_if_due(kid)
            finally:
                self._lock.release()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("the token's signing key (kid) is not one of its issuer's keys")
        return key

    def _refresh_if_due(self, kid: str) -> None:
        now = self._clock()
        wanted = kid not in self._keys or now - self._fetched_at >= MAX_AGE_SECONDS
        if not wanted or now - self._attempted_at < MIN_FETCH_INTERVAL_SECONDS:
            return
        self._attempted_at = now
        try:
            jwk_set = self._client.get_jwk_set()
        # OSError: the connection broke while the body was read; ValueError: it was not JSON.
        except (PyJWTError, OSError, ValueError) as exc:
            log.warning(
                "JWKS fetch from %s failed (keeping %d keys): %s", self._url, len(self._keys), exc
            )
            return
        keys = {
            jwk.key_id: jwk
            for jwk in jwk_set.keys
            if jwk.key_id
            and jwk.algorithm_name == ALGORITHM
            and jwk.public_key_use in ("sig", None)
        }
        if not keys:
            log.warning(
                "JWKS at %s has no RS256 signing key (keeping %d keys)", self._url, len(self._keys)
            )
            return
        self._keys = keys
        self._fetched_at = now
