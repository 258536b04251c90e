"""SSRF protection: URLs reaching loopback, private, link-local or metadata addresses are refused."""

import pytest

from safety import UrlRefused, check_url

PUBLIC = "93.184.216.34"


async def public_resolver(host: str, port: int) -> list[str]:
    return [PUBLIC]


REFUSED = [
    pytest.param("http://127.0.0.1/", "loopback", id="loopback-ipv4"),
    pytest.param("http://127.8.9.10:8080/admin", "loopback", id="loopback-range"),
    pytest.param("http://localhost:8000/", "loopback", id="localhost"),
    pytest.param("http://LOCALHOST./", "loopback", id="localhost-uppercase-trailing-dot"),
    pytest.param("http://api.localhost/", "loopback", id="localhost-subdomain"),
    pytest.param("http://10.0.0.1/", "private", id="private-10"),
    pytest.param("http://172.16.0.1/", "private", id="private-172-16"),
    pytest.param("http://192.168.1.1/", "private", id="private-192-168"),
    pytest.param("http://169.254.169.254/latest/meta-data/", "metadata", id="aws-metadata"),
    pytest.param("http://169.254.1.1/", "link-local", id="link-local"),
    pytest.param("http://100.100.100.200/", "metadata", id="alibaba-metadata"),
    pytest.param("http://100.64.0.1/", "shared", id="carrier-grade-nat"),
    pytest.param("http://[fd00:ec2::254]/", "metadata", id="aws-metadata-ipv6"),
    pytest.param("http://metadata.google.internal/computeMetadata/v1/", "metadata", id="gcp-metadata-name"),
    pytest.param("http://[::1]/", "loopback", id="loopback-ipv6"),
    pytest.param("http://[::ffff:127.0.0.1]/", "loopback", id="ipv4-mapped-ipv6"),
    pytest.param("http://[::ffff:7f00:1]/", "loopback", id="ipv4-mapped-ipv6-hex"),
    pytest.param("http://[64:ff9b::a00:1]/", "private", id="nat64-embedded-private"),
    pytest.param("http://[2002:7f00:1::]/", "loopback", id="6to4-embedded-loopback"),
    pytest.param("http://[fe80::1%25eth0]/", "link-local", id="link-local-ipv6-with-zone"),
    pytest.param("http://0.0.0.0/", "unspecified", id="unspecified"),
    pytest.param("http://2130706433/", "loopback", id="decimal-integer-ip"),
    pytest.param("http://0x7f.0.0.1/", "loopback", id="hex-first-octet"),
    pytest.param("http://0x7f.1/", "loopback", id="hex-two-part"),
    pytest.param("http://0x7f000001/", "loopback", id="hex-integer-ip"),
    pytest.param("http://0177.0.0.1/", "loopback", id="octal-first-octet"),
    pytest.param("http://127.1/", "loopback", id="short-form"),
    pytest.param("http://224.0.0.1/", "multicast", id="multicast"),
    pytest.param("file:///etc/passwd", "only http and https", id="file-scheme"),
    pytest.param("gopher://127.0.0.1:6379/_INFO", "only http and https", id="gopher-scheme"),
    pytest.param("ftp://example.com/x", "only http and https", id="ftp-scheme"),
    pytest.param("//example.com/x", "only http and https", id="scheme-relative"),
    pytest.param("http://user:pass@example.com/", "credentials", id="credentials-in-url"),
    pytest.param("http://token@example.com/", "credentials", id="username-only"),
    pytest.param("http://example.com\\@127.0.0.1/", "backslash", id="backslash-parser-confusion"),
    pytest.param("http://exa mple.com/", "whitespace", id="whitespace"),
    pytest.param("http://example.com:99999/", "cannot be parsed", id="bad-port"),
    pytest.param("http:///path", "no host", id="no-host"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_non_public_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url(url, resolve=public_resolver)
    assert reason in str(refused.value) and "refused" in str(refused.value)


async def test_a_public_address_is_allowed() -> None:
    await check_url("https://example.com/page?q=1", resolve=public_resolver)
    await check_url(f"http://{PUBLIC}/")


async def test_a_name_resolving_to_a_private_address_is_refused_naming_it() -> None:
    async def internal(host: str, port: int) -> list[str]:
        assert (host, port) == ("wiki.example.com", 443)
        return ["10.1.2.3"]

    with pytest.raises(
        UrlRefused, match=r"'wiki.example.com' resolves to 10.1.2.3, which is a private address"
    ):
        await check_url("https://wiki.example.com/", resolve=internal)


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return [PUBLIC, "::1"]

    with pytest.raises(UrlRefused, match="loopback"):
        await check_url("http://example.com/", resolve=mixed)


async def test_unresolvable_host_is_refused() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UrlRefused, match="cannot be resolved"):
        await check_url("http://nowhere.invalid/", resolve=failing)


async def test_allow_hosts_lets_listed_hosts_through() -> None:
    async def must_not_resolve(host: str, port: int) -> list[str]:
        raise AssertionError("an allowed host is not resolved")

    await check_url("http://127.0.0.1:8080/health", allow_hosts=["127.0.0.1"])
    await check_url("http://2130706433/", allow_hosts=["127.0.0.1"])  # the same address, spelled otherwise
    await check_url("http://docs.internal/", allow_hosts=["Docs.Internal"], resolve=must_not_resolve)
    with pytest.raises(UrlRefused):
        await check_url("http://127.0.0.2/", allow_hosts=["127.0.0.1"])
