"""The images the create dialog offers, and building the agent image from it.

The listing comes from the Docker backend (the default image first, marked missing when it is), with the
image each recent repository's last session used. A build runs here, in the engine, one per tag at a time:
its progress lines are kept so that every follower (the dialog that asked, one opened later) sees them all,
and the build goes on when a follower leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.engine.backend_set import BackendSet
from runtime.engine.tasks import BackgroundTasks
from runtime.errors import ClauderonError
from runtime.images import build_agent_image
from runtime.settings import DockerSettings
from runtime.store import Store

log = logging.getLogger(__name__)


@dataclass
class ImageBuild:
    """One build of an agent image: its lines so far and how it ended."""

    tag: str
    base: str
    lines: list[str] = field(default_factory=list)
    state: str = "running"
    """"running", "done" or "failed"."""
    error: str = ""
    image_id: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set (and replaced) at every new line and at the end: followers wait on it."""

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def add_line(self, line: str) -> None:
        self.lines.append(line)
        self._notify()

    def finish(self, image_id: str = "", error: str = "") -> None:
        self.state, self.image_id, self.error = ("failed" if error else "done"), image_id, error
        self._notify()

    def public(self) -> dict[str, Any]:
        return {"tag": self.tag, "base": self.base, "state": self.state, "lines": list(self.lines),
                "error": self.error, "image_id": self.image_id}

    async def follow(self) -> AsyncGenerator[dict[str, Any], None]:
        """`{"line"}` for every line from the first, then `{"state", "error", "image_id"}` once it ended."""
        sent = 0
        while True:
            changed = self.changed
            for line in self.lines[sent:]:
                yield {"line": line}
            sent = len(self.lines)
            if self.state != "running":
                yield {"state": self.state, "error": self.error, "image_id": self.image_id}
                return
            await changed.wait()


class AgentImages:
    """What `GET /images` answers and `POST /images/build` starts."""

    def __init__(self, settings: DockerSettings, store: Store, backends: BackendSet, tasks: BackgroundTasks,
                 on_built: Callable[[], Any]) -> None:
        self.settings = settings
        self.store = store
        self.backends = backends
        self.tasks = tasks
        self.on_built = on_built
        """Called after a build succeeded (the health's "agent image missing" goes)."""
        self.builds: dict[str, ImageBuild] = {}

    async def listing(self) -> dict[str, Any]:
        """`{"default", "build_base", "builder", "images": [{"ref", "present", "default", "agent"}],
        "last_by_repo", "build"}` (docs/api.md)."""
        default = self.settings.image
        builder = self.backends.image_builder()
        available, reason = await builder.available() if builder is not None else (False, "no image backend")
        local = await builder.local_images() if builder is not None and available else []
        present = {image["ref"] for image in local}
        images = [{"ref": default, "present": default in present, "default": True, "agent": True}]
        images += [{"ref": image["ref"], "present": True, "default": False, "agent": image["agent"]}
                   for image in sorted(local, key=lambda i: not i["agent"]) if image["ref"] != default]
        build = self.builds.get(default)
        return {"default": default, "build_base": self.settings.build_base,
                "builder": {"available": available, "reason": reason}, "images": images,
                "last_by_repo": await asyncio.to_thread(self.store.last_images),
                "build": build.public() if build else None}

    def build(self, tag: str | None = None, base: str | None = None) -> ImageBuild:
        """Start building `tag` (default: the sessions' image) from `base` (default: `[docker] build_base`), or
        join the build of that tag already running."""
        tag, base = tag or self.settings.image, base or self.settings.build_base
        running = self.builds.get(tag)
        if running is not None and running.state == "running":
            return running
        build = self.builds[tag] = ImageBuild(tag, base)
        self.tasks.spawn(self._run(build))
        return build

    async def _run(self, build: ImageBuild) -> None:
        loop = asyncio.get_running_loop()
        agents = tuple(self.settings.build_agents) or None

        def progress(line: str) -> None:  # called on the build's thread
            loop.call_soon_threadsafe(build.add_line, line)

        try:
            image_id = await asyncio.to_thread(build_agent_image, base=build.base, tag=build.tag, agents=agents,
                                               progress=progress, base_url=self.settings.base_url)
        except ClauderonError as exc:
            await asyncio.sleep(0)  # lines the thread queued land before the end
            build.finish(error=exc.message)
            log.warning("image build of %s failed: %s", build.tag, exc.message)
            return
        except Exception as exc:  # one line for the dialog; the trace goes to the log
            log.exception("image build of %s failed", build.tag)
            build.finish(error=f"the build of {build.tag} failed: {exc.__class__.__name__}: {exc}")
            return
        await asyncio.sleep(0)
        build.finish(image_id=image_id)
        await self.on_built()
