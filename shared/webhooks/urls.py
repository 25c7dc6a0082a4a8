"""Where a webhook may be sent: https to public addresses only.

Checked when a subscription is created and again before every send, and the request then goes
to the address that was checked (a name that resolves elsewhere between the check and the
connect cannot redirect it: DNS rebinding). Loopback addresses (127.0.0.0/8, ::1), over http or
https, are allowed only when WEBHOOKS_ALLOW_LOOPBACK_HTTP is on (`fleet serve` turns it on);
plain http to anything else never is.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import UnsafeUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names of cloud metadata servers; their addresses (169.254.169.254, fd00:ec2::254) are
# link-local or private and refused anyway.
_METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.goog"}

# IPv6 ranges that carry an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo): whether
# ipaddress calls them global depends on the Python patch level (CVE-2024-4032), and the IPv4
# address inside may be private or the metadata server. No webhook receiver needs them.
_IPV4_IN_IPV6 = tuple(
    ipaddress.ip_network(network)
    for network in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve", field="url") from exc
    found: dict[str, IPAddress] = {}
    for *_, sockaddr in infos:
        text = str(sockaddr[0]).split("%")[0]
        found[text] = ipaddress.ip_address(text)
    return tuple(found.values())


def check_url(url: str, *, allow_loopback_http: bool) -> Destination:
    """The destination of `url` with every address it resolves to, or UnsafeUrl (400)."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        # urlsplit drops tabs and newlines silently (WHATWG), so the URL checked here would not
        # be the one stored; http.client then refuses it at every delivery.
        raise UnsafeUrl(
            "url must not contain spaces or control characters (CR, LF, tab, ...)", field="url"
        )
    if not url.isascii():
        raise UnsafeUrl(
            "url must be ASCII: write the host in punycode (xn--...) and percent-encode the path",
            field="url",
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"url is not a valid URL: {exc}", field="url") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in {"https", "http"} or not host:
        raise UnsafeUrl("url must be an https:// URL with a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("url must not carry credentials", field="url")
    if parts.fragment:
        raise UnsafeUrl("url must not have a #fragment", field="url")
    if host in _METADATA_HOSTS:
        raise UnsafeUrl("url points at a metadata server", field="url")
    http_refused = UnsafeUrl(
        "url must be https (http is allowed only to loopback, locally)", field="url"
    )
    if scheme == "http" and not allow_loopback_http:
        raise http_refused
    port = port or (443 if scheme == "https" else 80)
    addresses = tuple(_unmapped(a) for a in _resolve(host, port))
    if scheme == "http" and not all(a.is_loopback for a in addresses):
        raise http_refused
    for address in addresses:
        if address.is_loopback and allow_loopback_http:
            continue
        if (
            not address.is_global
            or address.is_multicast
            or any(address in network for network in _IPV4_IN_IPV6)
        ):
            # The address itself is not said: a caller could map internal DNS names with it.
            raise UnsafeUrl(
                "url resolves to a private, loopback, link-local or reserved address",
                field="url",
            )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(scheme, host, port, target, tuple(str(a) for a in addresses))
