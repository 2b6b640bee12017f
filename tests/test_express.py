"""The express lane: marked submit endpoints run past FastAPI's routing, with the same answers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import TooLarge
from gateway.transports.express import ExpressLane, express, marked_routes
from gateway.transports.problem import (
    PROBLEM_BASE,
    UnexpectedErrors,
    install_handlers,
    render_problem,
)


def lane_app(routed: list[str]) -> FastAPI:
    """`routed` gets an entry each time a request goes through FastAPI's routing (an app-wide
    dependency), which the lane skips."""

    def through_routing(request: Request) -> None:
        routed.append(request.url.path)

    app = FastAPI(dependencies=[Depends(through_routing)])
    install_handlers(app)

    @app.post("/submit")
    @express
    async def submit(request: Request) -> Response:
        body = await request.body()
        caller = getattr(request.state, "caller", None)
        return Response(f"{caller}:{body.decode()}", 202)

    @app.get("/submit")
    async def describe() -> dict[str, str]:
        return {"describe": "yes"}

    @app.post("/refuse")
    @express
    async def refuse(request: Request) -> Response:
        return render_problem(TooLarge("the body is larger than 1 byte"), request.url.path)

    @app.post("/routed")
    async def plain(request: Request) -> Response:
        return Response(await request.body(), 202)

    app.add_middleware(ExpressLane, routers=[app.router], guard=lambda inner: inner)

    class Caller:
        """Stands for the identity middleware, which runs before the lane."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                scope.setdefault("state", {})["caller"] = "police"
            await self.inner(scope, receive, send)

    app.add_middleware(Caller)
    return app


def call(app: FastAPI, method: str, path: str, body: bytes = b"", root: str = "") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path=root)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.request(method, root + path, content=body)

    return asyncio.run(go())


def test_a_marked_post_skips_the_routing_and_sees_the_caller_and_body() -> None:
    routed: list[str] = []
    app = lane_app(routed)
    response = call(app, "POST", "/submit", b"report")
    assert (response.status_code, response.text) == (202, "police:report")
    assert routed == []
    # The control: an unmarked route goes through the routing (and its dependency).
    assert call(app, "POST", "/routed", b"x").status_code == 202
    assert routed == ["/routed"]


def test_other_methods_on_a_marked_path_go_to_the_app() -> None:
    routed: list[str] = []
    app = lane_app(routed)
    assert call(app, "GET", "/submit").json() == {"describe": "yes"}
    refused = call(app, "PUT", "/submit")
    assert refused.status_code == 405
    assert refused.headers["content-type"] == "application/problem+json"
    assert routed == ["/submit"]


def test_the_lane_matches_below_the_root_path() -> None:
    routed: list[str] = []
    response = call(lane_app(routed), "POST", "/submit", b"r", root="/gateway")
    assert response.status_code == 202 and routed == []


def test_an_endpoints_own_error_answer_is_sent_as_it_is() -> None:
    response = call(lane_app([]), "POST", "/refuse")
    assert response.status_code == 413
    assert response.json()["type"] == PROBLEM_BASE + "too-large"


def test_the_guard_answers_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    install_handlers(app)

    @app.post("/crash")
    @express
    async def crash(_: Request) -> Response:
        raise RuntimeError("boom")

    app.add_middleware(ExpressLane, routers=[app.router], guard=UnexpectedErrors)
    with caplog.at_level(logging.ERROR):
        response = call(app, "POST", "/crash")
    assert response.status_code == 503
    assert response.json()["type"] == PROBLEM_BASE + "unavailable"
    assert "RuntimeError on POST /crash" in caplog.text


@pytest.mark.parametrize("path", ["/items/{item}", "/twice"])
def test_a_marked_route_that_cannot_take_the_lane_is_refused(path: str) -> None:
    app = FastAPI()

    async def endpoint(request: Request) -> Response:
        return Response()

    app.post(path)(express(endpoint))
    if path == "/twice":
        app.post(path)(endpoint)
    with pytest.raises(ValueError, match="express"):
        marked_routes([app.router])


def test_every_institutions_submit_endpoint_takes_the_lane(tmp_path: Path) -> None:
    from gateway.app import create_app
    from gateway.devconfig import write_gateway_config
    from gateway.pki import init_pki
    from gateway.settings import Settings

    layout = init_pki(tmp_path / "pki")
    config = write_gateway_config(
        layout, path=tmp_path / "gateway.toml", database=str(tmp_path / "gateway.sqlite3")
    )
    app = create_app(Settings.load(config), forward=False)
    adapters = app.state.gateway.adapters
    assert len(adapters) >= 6
    lanes = [m.kwargs["routers"] for m in app.user_middleware if cast(object, m.cls) is ExpressLane]
    assert len(lanes) == 1
    paths = set(marked_routes(cast(list[APIRouter], lanes[0])))
    assert paths == {a.transport.path for a in adapters.values()}
