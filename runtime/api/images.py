"""Engine API routes behind the create dialog's image selector: the local images, and building the agent
image with its progress followed live (`runtime/engine/agent_images.py`)."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from runtime.api.http import API, OpenSockets, cancel_quietly, read_json
from runtime.engine.core import Engine
from runtime.errors import ClauderonError, NotFound

IMAGE_REF = re.compile(r"[a-z0-9][a-z0-9._/:@-]{0,254}", re.IGNORECASE)
"""What an image reference may look like here: refused before it reaches Docker otherwise."""


def image_ref(value: object, what: str) -> str | None:
    """An optional image reference from a request body (one line when it is not one)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not IMAGE_REF.fullmatch(value):
        raise ClauderonError(f"{what} must be an image reference like clauderon-agent:latest")
    return value


class ImageRoutes:
    """`GET /images`, `POST /images/build` and the build's progress websocket."""

    def __init__(self, engine: Engine, sockets: OpenSockets) -> None:
        self.images = engine.images
        self.sockets = sockets

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{API}/images", self.listing),
            web.post(f"{API}/images/build", self.build),
            web.get("/ws/v1/images/build", self.follow),
        ]

    async def listing(self, request: web.Request) -> web.Response:
        return web.json_response(await self.images.listing())

    async def build(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        build = self.images.build(image_ref(body.get("tag"), "tag"), image_ref(body.get("base"), "base"))
        return web.json_response(build.public(), status=202)

    async def follow(self, request: web.Request) -> web.WebSocketResponse:
        """Every progress line of the build of `tag` from its first, then how it ended; the build goes on
        when the follower leaves."""
        tag = image_ref(request.query.get("tag"), "tag") or self.images.settings.image
        build = self.images.builds.get(tag)
        if build is None:
            raise NotFound(f"no build of {tag} was started: POST {API}/images/build first")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.track(ws)
        updates = build.follow()
        reader = asyncio.ensure_future(ws.receive())
        try:
            while True:
                step = asyncio.ensure_future(anext(updates))
                done, _ = await asyncio.wait({step, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    await cancel_quietly(step)
                    break
                try:
                    update = step.result()
                except StopAsyncIteration:
                    break
                await ws.send_json(update)
        finally:
            await cancel_quietly(reader)
            await updates.aclose()
            self.sockets.untrack(ws)
            await ws.close()
        return ws
