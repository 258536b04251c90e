"""SSRF protection for ``web_fetch``: only plain http(s) to public internet addresses.

A URL in a ticket can point at the bot's own network: the cloud metadata service (credentials), a
database admin page on 10.x, the bot's own API on 127.0.0.1. ``check_url`` refuses such URLs before any
request is made: it parses the host the way C resolvers do (``2130706433``, ``0x7f.1`` and ``0177.0.0.1``
are all 127.0.0.1), resolves names, and refuses when ANY address is not public, including IPv4 addresses
hidden inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64, Teredo).

Callers call it again for every redirect hop. The check cannot pin the address the HTTP client then
connects to, so a hostile DNS server answering differently the second time (DNS rebinding) is outside
what it covers.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from safety.errors import UrlRefused

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_SCHEMES = ("http", "https")


async def check_url(url: str, *, allow_hosts: Collection[str] = (), resolve: Resolver | None = None) -> None:
    """Raise ``UrlRefused`` unless ``url`` is http(s), without credentials, to public addresses only.

    A host listed in ``allow_hosts`` (by name or address) is let through without the address check.
    ``resolve(host, port)`` returns the host's addresses (default: the event loop's ``getaddrinfo``).
    """
    if any(ord(c) < 33 or c in "\\\x7f" for c in url):
        raise UrlRefused(f"URL {url!r} refused: it contains whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"URL {url!r} refused: it cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = scheme or "none"
        raise UrlRefused(f"URL {url!r} refused: only http and https URLs may be fetched, not {shown!r}")
    if "@" in parts.netloc:
        raise UrlRefused(f"URL {url!r} refused: credentials (user:password@) in a URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused(f"URL {url!r} refused: it has no host")
    port = port or (443 if scheme == "https" else 80)

    literal = _ip_literal(host)
    if _allowed(host, literal, allow_hosts):
        return
    if host in METADATA_HOSTS:
        raise UrlRefused(f"URL {url!r} refused: {host!r} is a cloud metadata service")
    if host == "localhost" or host.endswith(".localhost"):
        raise UrlRefused(f"URL {url!r} refused: {host!r} is this machine (loopback)")
    addresses = [literal] if literal is not None else await _resolve(host, port, resolve)
    for address in addresses:
        reason = _blocked(address)
        if reason:
            shown = "" if literal is not None else f" resolves to {address}, which"
            raise UrlRefused(
                f"URL {url!r} refused: host {host!r}{shown} is {reason}; only public internet addresses "
                "may be fetched (an operator can list a host in safety.allow_hosts)"
            )


def _allowed(host: str, literal: IPAddress | None, allow_hosts: Collection[str]) -> bool:
    for entry in allow_hosts:
        entry = entry.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
        if entry == host:
            return True
        if literal is not None and _ip_literal(entry) == literal:
            return True
    return False


async def _resolve(host: str, port: int, resolve: Resolver | None) -> list[IPAddress]:
    try:
        found = await (resolve or _getaddrinfo)(host, port)
    except OSError as exc:
        raise UrlRefused(f"host {host!r} refused: it cannot be resolved ({exc})") from None
    addresses = [a for a in (_ip_literal(text) for text in found) if a is not None]
    if not addresses:
        raise UrlRefused(f"host {host!r} refused: it resolves to no usable address")
    return addresses


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _ip_literal(host: str) -> IPAddress | None:
    """``host`` as an address if it is one, in any spelling ``inet_aton`` accepts or IPv6 (zone dropped)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return _loose_ipv4(host)


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse 1 to 4 dot-separated decimal, octal (0-prefixed) or hex (0x) numbers like ``inet_aton``."""
    fields = host.split(".")
    if len(fields) > 4 or not all(_IPV4_PART.fullmatch(f) for f in fields):
        return None
    numbers = [_number(f) for f in fields]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, number in enumerate(head):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(field: str) -> int:
    if field[:2].lower() == "0x":
        return int(field[2:] or "0", 16)
    if len(field) > 1 and field.startswith("0"):
        return int(field, 8)
    return int(field)


def _blocked(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched, or None for a public address."""
    if address in METADATA_ADDRESSES:
        return f"a cloud metadata address ({address})"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        inner = _blocked(embedded) if embedded is not None else None
        if inner:
            return f"{inner}, embedded in the IPv6 address {address}"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public internet address"),
    )
    return next((f"{why} ({address})" for hit, why in checks if hit), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
