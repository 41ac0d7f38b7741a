"""The create dialog's image selector: the local images (the default first, marked missing when it is), the
repository's last image chosen for it, and "build it now" with the engine's build progress, live."""

from __future__ import annotations

import logging
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Label, Select, Static

from runtime.api.client import EngineClientProtocol
from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

PROGRESS_LINES = 4
"""The newest build lines shown under the selector."""


class ImagePicker(Vertical):
    """Which image a docker session runs on; builds the default one when it is missing."""

    DEFAULT_CSS = """
    ImagePicker { height: auto; }
    ImagePicker #image-missing { height: auto; padding-left: 14; margin-top: -1; margin-bottom: 1; }
    ImagePicker #image-missing.-hidden { display: none; }
    ImagePicker #image-note { width: 1fr; color: $warning; }
    ImagePicker #image-progress { height: auto; padding-left: 14; color: $secondary; }
    ImagePicker #image-progress.-failed { color: $error; }
    """

    repo: reactive[str] = reactive("")
    """The dialog's repository: its last image is chosen when known."""

    def __init__(self, client: EngineClientProtocol, default: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client = client
        self.default = default
        self.listing: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("image", classes="field-label")
            yield Select([(f"{self.default}  (default)", self.default)], value=self.default, allow_blank=False,
                         id="image", classes="field", compact=True)
        with Horizontal(id="image-missing", classes="-hidden"):
            yield Static(id="image-note")
            yield Button("build it now", id="build-image", variant="warning", compact=True)
        yield Static(id="image-progress")

    def on_mount(self) -> None:
        self._load()

    # -- what the dialog asks --------------------------------------------------------------------------------
    @property
    def value(self) -> str:
        """The chosen image."""
        return str(self.query_one("#image", Select).value)

    def problem(self) -> str:
        """Why the chosen image cannot start a session ("" when it can, or when the images are unknown)."""
        image = next((i for i in self.listing.get("images", ()) if i["ref"] == self.value), None)
        if image is None or image["present"] or not self.listing.get("builder", {}).get("available"):
            return ""
        return f"{self.value} is missing: press \"build it now\" or choose another image"

    # -- the listing ---------------------------------------------------------------------------------------
    @work(exclusive=True, group="images")
    async def _load(self) -> None:
        try:
            self.listing = await self.client.images()
        except ClauderonError as exc:
            log.debug("images: %s", exc)
            return
        select: Select[str] = self.query_one("#image", Select)
        chosen = self.value
        docker_up = bool(self.listing["builder"]["available"])  # with Docker down, nothing is known missing
        select.set_options((self._label(image, docker_up), image["ref"]) for image in self.listing["images"])
        refs = [image["ref"] for image in self.listing["images"]]
        select.value = chosen if chosen in refs else self.listing["default"]
        select.mutate_reactive(Select.value)  # type: ignore[misc]  # the label changes though the value may not
        self.watch_repo(self.repo)
        default = self.listing["images"][0]
        missing = not default["present"] and self.listing["builder"]["available"]
        self.query_one("#image-missing").set_class(not missing, "-hidden")
        base = self.listing.get("build_base", "its base")
        self.query_one("#image-note", Static).update(f"{default['ref']} is not built yet: build it here (ctrl+g) "
                                                     f"from {base}")
        build = self.listing.get("build") or {}
        if build.get("state") == "running":  # a build started earlier (another dialog): follow it
            self._build()

    @staticmethod
    def _label(image: dict[str, Any], docker_up: bool) -> str:
        notes = [note for note, on in (("default", image["default"]), ("missing", docker_up and not image["present"]))
                 if on]
        return f"{image['ref']}  ({', '.join(notes)})" if notes else image["ref"]

    def watch_repo(self, repo: str) -> None:
        if not self.listing:
            return
        last = self.listing.get("last_by_repo", {}).get(repo.rstrip("/"))
        present = {i["ref"] for i in self.listing.get("images", ()) if i["present"]}
        if last in present:
            self.query_one("#image", Select).value = last

    # -- building --------------------------------------------------------------------------------------------
    @on(Button.Pressed, "#build-image")
    def _build_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.build()

    def build(self) -> None:
        """Build the default image in the engine (or follow its build already running), progress shown live."""
        self._build()

    @work(exclusive=True, group="image-build")
    async def _build(self) -> None:
        button = self.query_one("#build-image", Button)
        progress = self.query_one("#image-progress", Static)
        button.disabled = True
        progress.remove_class("-failed")
        progress.update("asking the engine to build…")
        lines: list[str] = []
        end: dict[str, Any] = {}
        try:
            async for update in self.client.build_image():
                if "line" in update:
                    lines.append(str(update["line"]))
                    progress.update("\n".join(lines[-PROGRESS_LINES:]))
                else:
                    end = update
        except ClauderonError as exc:
            end = {"state": "failed", "error": str(exc)}
        if end.get("state") == "done":
            progress.update(f"built {self.listing.get('default', 'the image')}")
            await self._load().wait()
        else:
            progress.add_class("-failed")
            progress.update(f"✖ {end.get('error') or 'the build stopped: the engine went away'}")
        button.disabled = False
