"""The express lane: the institutions' submit endpoints served past FastAPI's routing.

Every message comes through a `POST` endpoint that takes the request and returns a response,
renders its own errors and uses no dependency injection. FastAPI's routing and inner
middleware (route matching over every route, the exception and exit-stack middleware, the
request handler, dependency solving) add nothing such an endpoint uses, and they cost about a
fifth of the event loop's CPU per message (0.17–0.23 ms in paired `make bench-gateway` runs;
the reference register uses the lane too). The lane sits in the app's middleware stack after
identity (the caller is known) and hands a `POST` on a marked endpoint's exact path straight
to it; everything else goes on to the app. An endpoint is marked with `express` where it is
declared, so that what takes the lane is visible in each transport.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
_MARK = "__express__"


def express(endpoint: E) -> E:
    """Mark a `POST` endpoint `(request) -> Response` whose path has no parameters."""
    setattr(endpoint, _MARK, True)
    return endpoint


def marked_routes(routers: Iterable[Router]) -> dict[str, Endpoint]:
    """The marked endpoints declared on `routers` (included in the app without a prefix), by
    path; a marked route that cannot take the lane is a bug."""
    found: dict[str, Endpoint] = {}
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or not getattr(route.endpoint, _MARK, False):
            continue
        if route.methods != {"POST"} or route.param_convertors or route.path in found:
            raise ValueError(f"{route.path}: only one parameterless POST route may be express")
        found[route.path] = route.endpoint
    return found


class ExpressLane:
    """ASGI middleware: `POST` on a marked path runs its endpoint directly.

    `guard` wraps the direct call as the app's own middleware would wrap the route (the
    gateway's answer to an unexpected exception); the app's outer middleware, added after
    this one, still runs for every request.
    """

    def __init__(
        self,
        app: ASGIApp,
        routers: Iterable[Router],
        guard: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.endpoints = marked_routes(routers)
        self.direct = guard(self._run) if guard else self._run

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(_route_path(scope))
            if endpoint is not None:
                scope["endpoint"] = endpoint
                await self.direct(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _run(scope: Scope, receive: Receive, send: Send) -> None:
        response = await scope["endpoint"](Request(scope, receive, send))
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    # As Starlette's routing: the path below the app's mount point (`root_path`).
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
