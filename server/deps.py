"""What the routes declare they need: the running server's parts, the operator's access, a run id.

``server.running`` builds the parts (``Edge``) at start-up and the app keeps them on its state; a
route handler declares the parts it uses (``Service``, ``Authorizer``, ...), not the whole.

Every dependency is ``async def``, here and in the routers: FastAPI runs a plain ``def`` dependency in
its thread pool (40 threads), so a burst of 100 slash commands queued 300 thread hops for what are
attribute reads.
"""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi import Path as PathParameter
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config import Settings
from server.access import Access
from server.running import Edge
from server.service import LATEST, RunService

RunId = Annotated[
    str, PathParameter(description=f"A run id, or `{LATEST}` for the newest run.", examples=[LATEST])
]
bearer = HTTPBearer(scheme_name="bearerAuth", description="NIGHTSHIFT_API_TOKEN", auto_error=False)


def edge(request: Request) -> Edge:
    parts: Edge = request.app.state.edge
    return parts


def settings(request: Request) -> Settings:
    return edge(request).settings


async def run_service(request: Request) -> RunService:
    return edge(request).service


def client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str | None:
    """The token of ``Authorization: Bearer <token>``, if one was sent."""
    return credentials.credentials if credentials else None


async def access(request: Request) -> Access:
    return edge(request).access


Service = Annotated[RunService, Depends(run_service)]
Authorizer = Annotated[Access, Depends(access)]
BearerToken = Annotated[str | None, Depends(bearer_token)]


async def operator(request: Request, authorizer: Authorizer, token: BearerToken) -> None:
    """A change by the operator: the API token, or loopback when none is configured (401 otherwise)."""
    authorizer.authorize(token, client_host(request))


Operator = Depends(operator)
