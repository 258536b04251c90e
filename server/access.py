"""Who may change things: the API token, a run's signed link, or (with no token configured) loopback.

Reading is open. Mutations need ``Authorization: Bearer $NIGHTSHIFT_API_TOKEN`` (a page's form may send
the token as a field instead); a run's signed link (``/ui/runs/{id}?sig=...``, put in Slack, PR bodies
and the terminal briefing) lets whoever holds it decide on that run; with no token configured,
mutations are accepted only from this machine.
"""

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from config import Settings
from server.errors import ApiError
from store.runs import Store, database_url

CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class RunLinks:
    """Links to a run's web page, signed so that whoever holds one may decide on that run."""

    public_url: str
    key: bytes

    @classmethod
    async def from_settings(cls, settings: Settings) -> "RunLinks":
        server = settings.server
        public = (server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
        return cls(public, await shared_link_key(settings))

    def signature(self, run_id: str) -> str:
        return hmac.new(self.key, run_id.encode(), hashlib.sha256).hexdigest()[:32]

    def signed(self, run_id: str) -> str:
        return f"{self.public_url}/ui/runs/{run_id}?sig={self.signature(run_id)}"

    def holds(self, run_id: str, sig: str | None) -> bool:
        """Whether ``sig`` is the signature of ``run_id``'s link (compared in constant time)."""
        return bool(sig) and hmac.compare_digest((sig or "").encode(), self.signature(run_id).encode())


@dataclass(frozen=True, slots=True)
class Access:
    api_token: str | None
    """NIGHTSHIFT_API_TOKEN; None: mutations only from loopback."""
    links: RunLinks

    def authorize(
        self, token: str | None, client_host: str | None, *, run_id: str | None = None, sig: str | None = None
    ) -> None:
        """Let a mutation through: the API token, ``run_id``'s signed link, or loopback when no token is
        configured. ApiError 401 otherwise, saying what to send."""
        if self.api_token and token and hmac.compare_digest(token.encode(), self.api_token.encode()):
            return
        if run_id and self.links.holds(run_id, sig):
            return
        if not self.api_token and _is_loopback(client_host):
            return
        if self.api_token:
            raise ApiError(401, "send Authorization: Bearer <NIGHTSHIFT_API_TOKEN>", headers=CHALLENGE)
        raise ApiError(
            401,
            "no NIGHTSHIFT_API_TOKEN is configured, so changes are accepted only from this machine",
            headers=CHALLENGE,
        )


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def shared_link_key(settings: Settings) -> bytes:
    """The key signing per-run links, the same for every worker: kept in the database (made by the first
    worker, from the key an older version kept in ``<state>/link.key`` when there is one, so links
    already posted stay valid)."""
    data_dir = settings.data_dir.resolve()
    old = data_dir / "link.key"
    initial = bytes.fromhex(old.read_text(encoding="utf-8").strip()) if old.exists() else None
    store = Store(database_url(data_dir, settings.database_url))
    try:
        return await store.shared_key("run-links", initial=initial)
    finally:
        store.close()
