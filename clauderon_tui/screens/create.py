"""The create dialog: everything a new session needs, validated inline, with live progress until it runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import (
    Button,
    Checkbox,
    Collapsible,
    Footer,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TextArea,
)

from clauderon_tui.pasted import pasted_images
from clauderon_tui.screens.field_dialog import FieldDialog
from clauderon_tui.widgets.image_picker import ImagePicker
from runtime.agents.registry import agent_named, agent_names, all_agents
from runtime.api.client import EngineClientProtocol
from runtime.backends.registry import backend_names, capabilities_of
from runtime.errors import ClauderonError
from runtime.models import Session, Status
from runtime.names import NAME_RE
from runtime.requests import (
    LaunchOptionError,
    check_model_name,
    entry_lines,
    parse_env_entries,
    parse_mount_entries,
)
from runtime.settings import Settings

log = logging.getLogger(__name__)

AGENTS = tuple(agent_names())
NETWORKS = ("auto", "sealed", "bridge", "host")
NETWORK_HELP = ("auto = sealed: no way out but the proxy. bridge, host: open networks (a program that ignores "
                "the proxy goes around it). Sealed still reaches public hosts through the proxy: the allowlist "
                "egress policy ([proxy] egress) limits those.")
ACCESS_MODES = ("read-write", "read-only")


class RepoSuggester(Suggester):
    """Recent repositories first, then directories on disk completing the typed path."""

    def __init__(self, recent: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.recent = recent

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        for repo in self.recent:
            if repo.startswith(value) and repo != value:
                return repo
        expanded = os.path.expanduser(value)
        parent, _, stem = expanded.rpartition("/")
        try:
            names = sorted(entry.name for entry in os.scandir(parent or "/")
                           if entry.is_dir() and entry.name.startswith(stem) and not entry.name.startswith("."))
        except OSError:
            return None
        if not names or (names[0] == stem and len(names) == 1):
            return None
        return value[: len(value) - len(stem)] + names[0] + "/"


class CreateSessionScreen(FieldDialog[str | None]):
    """Dismisses with the new session's id once it runs, or None when cancelled."""
    AUTO_FOCUS = "#repo"  # focused as it opens, so keys typed right after it land here

    DEFAULT_CSS = """
    CreateSessionScreen {
        align: center middle;
        #create {
            width: 100; max-width: 100%; height: 95%; background: $surface; border: round $primary; padding: 0 1;
        }
        #create-title { text-style: bold; color: $primary; height: 1; }
        .row { height: auto; }
        .row { margin-bottom: 1; }
        .field-label { width: 14; padding: 0 1 0 0; color: $text-muted; }
        .field { width: 1fr; }
        RadioSet { layout: horizontal; width: 1fr; border: none; height: auto; }
        RadioSet > RadioButton { width: auto; margin-right: 2; }
        #prompt { height: 5; background: $panel; }
        #env, #mounts { height: 3; background: $panel; }
        Input, Select { background: $panel; }
        .inline-error { color: $error; height: auto; padding-left: 14; margin-top: -1; }
        .inline-error.-hidden { display: none; }
        #progress { height: auto; color: $secondary; padding: 0 1; }
        #create-error { height: auto; color: $error; padding: 0 1; }
        #create-buttons { height: auto; align-horizontal: right; }
        #create-buttons Button { margin-left: 2; }
        Collapsible { padding: 0; border: none; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Create"),
        Binding("ctrl+g", "build_image", "Build image"),
    ]

    def __init__(self, client: EngineClientProtocol, settings: Settings, health: dict[str, Any] | None,
                 default_repo: str | None = None) -> None:
        super().__init__()
        self.default_repo = default_repo
        """Filled in when the repository field would start empty (the directory `clauderon` was started in)."""
        self.client = client
        self.settings = settings
        self.health = health or {}
        self.pending_id: str | None = None
        self._name_edited = False
        self._recent: list[str] = []

    # -- layout ------------------------------------------------------------------------------------------
    def _row(self, label: str, widget: Any) -> Horizontal:
        return Horizontal(Label(label, classes="field-label"), widget, classes="row")

    def compose(self) -> ComposeResult:
        defaults = self.settings.session
        # Before the engine's first health answer every backend is offered; the engine refuses one it lacks.
        backends = self.health.get("backends") or {name: {"available": True} for name in backend_names()}
        with VerticalScroll(id="create"):
            yield Static("New session", id="create-title")
            yield self._row("repository", Input(placeholder="/path/to/repo", id="repo", classes="field", compact=True))
            yield Static(id="repo-error", classes="inline-error -hidden")
            yield self._row("prompt", TextArea(id="prompt", classes="field", soft_wrap=True, compact=True))
            yield self._row("images", Input(placeholder="image files sent with the prompt (drop or paste paths)",
                                            id="images", classes="field", compact=True))
            yield Static(id="images-error", classes="inline-error -hidden")
            yield self._row("name", Input(placeholder="lowercase-with-dashes", id="name", classes="field",
                                          compact=True))
            yield Static(id="name-error", classes="inline-error -hidden")
            yield self._row("agent", RadioSet(*(RadioButton(a, value=a == defaults.agent, name=a) for a in AGENTS),
                                              id="agent", compact=True))
            yield Static(id="agent-note", classes="inline-error -hidden", markup=False)
            yield self._row("model", Input(id="model", classes="field", compact=True))
            yield Static(id="model-error", classes="inline-error -hidden")
            yield self._row("", Checkbox("start in plan mode (plans first, changes nothing until you switch mode)",
                                         id="plan-mode", compact=True))
            backend_buttons = []
            for name, info in backends.items():
                label = name
                if not info.get("available", False):
                    label = f"{name} ({info.get('reason') or 'unavailable'})"
                elif not info.get("sandboxed", True):
                    label = f"{name} (unsandboxed)"
                available = bool(info.get("available", False))
                backend_buttons.append(RadioButton(label, value=name == defaults.backend and available, name=name,
                                                   disabled=not available))
            yield self._row("backend", RadioSet(*backend_buttons, id="backend", compact=True))
            yield ImagePicker(self.client, self.settings.docker.image, id="image-picker")
            yield self._row("base branch", Select([], id="base-branch", classes="field", allow_blank=True,
                                                  prompt="default branch", compact=True))
            yield self._row("access", RadioSet(*(RadioButton(m, value=m == defaults.access_mode, name=m)
                                                 for m in ACCESS_MODES), id="access", compact=True))
            yield self._row("", Checkbox("skip permission prompts (the container holds no credential)",
                                         value=defaults.skip_permissions, id="skip-permissions", compact=True))
            yield self._row("", Checkbox("print (headless): run the prompt to the end, keep its result",
                                         id="print", compact=True))
            with Collapsible(title="advanced", collapsed=True, id="advanced"):
                yield self._row("cpu", Input(value=_opt(self.settings.docker.cpu), placeholder="unlimited",
                                             id="cpu", classes="field", compact=True))
                yield self._row("memory", Input(value=_opt(self.settings.docker.memory), placeholder="e.g. 4g",
                                                id="memory", classes="field", compact=True))
                yield self._row("network", RadioSet(*(RadioButton(n, value=n == self.settings.docker.network, name=n)
                                                      for n in NETWORKS), id="network", compact=True))
                yield self._row("", Static(NETWORK_HELP, id="network-help", classes="field", markup=False))
                yield self._row("env", TextArea(id="env", classes="field", compact=True))
                yield self._row("mounts", TextArea(id="mounts", classes="field", compact=True))
                yield self._row("", Checkbox("skip the credential check (the agent may not reach its model)",
                                             id="skip-credential-check", compact=True))
            yield Static(id="advanced-error", classes="inline-error -hidden")
            yield Static(id="progress")
            yield Static(id="create-error")
            with Horizontal(id="create-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Create", id="submit", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        repo = self.query_one("#repo", Input)
        if not repo.value and self.default_repo:
            repo.value = self.default_repo
        self._offer_agent_options(self._radio("agent"))
        self._backend_changed()
        self._load_recent()

    # -- data from the engine -------------------------------------------------------------------------------
    @work(group="recent")
    async def _load_recent(self) -> None:
        try:
            self._recent = await self.client.recent_repos()
        except ClauderonError as exc:
            self._show_error(str(exc))
            return
        repo = self.query_one("#repo", Input)
        repo.suggester = RepoSuggester(self._recent)
        if self._recent and not repo.value:
            repo.value = self._recent[0]

    @work(exclusive=True, group="branches")
    async def _load_branches(self, repo: str) -> None:
        select: Select[str] = self.query_one("#base-branch", Select)
        if not Path(repo).is_absolute():
            select.set_options([])
            return
        try:
            branches = await self.client.branches(repo)
        except ClauderonError:
            branches = []
        select.set_options((branch, branch) for branch in branches)

    @work(exclusive=True, group="suggest")
    async def _suggest_name(self, prompt: str) -> None:
        if not prompt.strip():
            return
        try:
            name = await self.client.suggest_name(prompt)
        except ClauderonError:
            return
        if not self._name_edited:
            name_input = self.query_one("#name", Input)
            name_input.value = name
            self._name_edited = False

    # -- inline validation ----------------------------------------------------------------------------------
    @on(Input.Changed, "#repo")
    def _repo_changed(self, event: Input.Changed) -> None:
        self._set_inline("repo-error", "")
        self._load_branches(event.value)
        self.query_one(ImagePicker).repo = event.value.strip()

    @on(RadioSet.Changed, "#backend")
    def _backend_changed(self) -> None:
        self.query_one(ImagePicker).disabled = not self._builds_images()  # others: their [backend] image

    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        if event.input.has_focus:
            self._name_edited = True
        self._set_inline("name-error", self._name_problem(event.value))

    @on(RadioSet.Changed, "#agent")
    def _agent_changed(self) -> None:
        self._offer_agent_options(self._radio("agent"))

    def _offer_agent_options(self, name: str | None) -> None:
        """The model field suggests the agent's known models (free text too); agents without one disable it."""
        agent = agent_named(name or self.settings.session.agent)
        model = self.query_one("#model", Input)
        model.disabled = agent.model_option is None
        model.suggester = SuggestFromList(agent.models, case_sensitive=False)
        default = self.settings.default_model(agent.name) or "the CLI's default"
        model.placeholder = ("no model (a shell)" if model.disabled
                             else f"{default}; known: {', '.join(agent.models[:5])}, ...")
        plan = self.query_one("#plan-mode", Checkbox)
        plan.disabled = not agent.takes_plan_mode
        if plan.disabled:
            plan.value = False
        self._set_inline("model-error", "")
        self._note_agent()

    @on(Checkbox.Changed, "#skip-credential-check")
    def _note_agent(self) -> None:
        """Before create: a shell ignores the prompt; an agent the host has no credential for will be refused."""
        agent = agent_named(self._radio("agent") or self.settings.session.agent)
        note = ""
        if not agent.takes_prompt and self.query_one("#prompt", TextArea).text.strip():
            takers = " or ".join(a.name for a in all_agents() if a.takes_prompt)
            note = f"the {agent.name} agent ignores the prompt (nothing is typed into its shell); {takers} takes it"
        problem = (self.health.get("agents") or {}).get(agent.name, {}).get("credential_problem")
        if problem and not self.query_one("#skip-credential-check", Checkbox).value:
            note = f"{problem}; or tick \"skip the credential check\" under advanced"
        self._set_inline("agent-note", note)

    @on(Input.Changed, "#model")
    def _model_changed(self, event: Input.Changed) -> None:
        self._set_inline("model-error", self._model_problem(event.value.strip()))

    @staticmethod
    def _model_problem(model: str) -> str:
        if model:
            try:
                check_model_name(model)
            except ValueError as exc:
                return str(exc)
        return ""

    @on(TextArea.Changed, "#prompt")
    def _prompt_changed(self, event: TextArea.Changed) -> None:
        self._note_agent()
        if not self._name_edited:
            self._suggest_name(event.text_area.text)

    @staticmethod
    def _name_problem(name: str) -> str:
        if not name or NAME_RE.fullmatch(name):
            return ""
        return "1 to 63 of a-z, 0-9 and '-', starting with a letter or digit"

    def _set_inline(self, widget_id: str, text: str) -> None:
        widget = self.query_one(f"#{widget_id}", Static)
        widget.update(text)
        widget.set_class(not text, "-hidden")

    def _show_error(self, text: str) -> None:
        shown = Content.from_markup("[b]✖[/b] $error", error=text) if text else ""
        error = self.query_one("#create-error", Static)
        error.update(shown)
        if text:
            self.call_after_refresh(error.scroll_visible)  # below the fold on a short terminal

    def _builds_images(self) -> bool:
        """Whether the chosen backend runs the images the picker offers (the others use their own setting)."""
        backend = self._radio("backend")
        return backend is not None and capabilities_of(backend).builds_images

    def _radio(self, widget_id: str) -> str | None:
        pressed = self.query_one(f"#{widget_id}", RadioSet).pressed_button
        return None if pressed is None else pressed.name

    def build_request(self) -> dict[str, Any] | None:
        """The create request from the form, or None after showing what is wrong."""
        ok = True
        repo = self.query_one("#repo", Input).value.strip()
        if not repo:
            self._set_inline("repo-error", "choose a repository")
            ok = False
        name = self.query_one("#name", Input).value.strip()
        problem = self._name_problem(name) or ("give the session a name" if not name else "")
        self._set_inline("name-error", problem)
        ok = ok and not problem
        model_input = self.query_one("#model", Input)
        model = "" if model_input.disabled else model_input.value.strip()
        model_problem = self._model_problem(model)
        self._set_inline("model-error", model_problem)
        ok = ok and not model_problem
        images_text = self.query_one("#images", Input).value.strip()
        pasted = pasted_images(images_text) if images_text else None
        unusable = bool(images_text) and (pasted is None or bool(pasted.data))
        images_problem = "give paths of PNG, JPEG, GIF or WebP files" if unusable else ""
        self._set_inline("images-error", images_problem)
        ok = ok and not images_problem
        advanced: list[str] = []
        cpu_text = self.query_one("#cpu", Input).value.strip()
        cpu: float | None = None
        if cpu_text:
            try:
                cpu = float(cpu_text)
            except ValueError:
                advanced.append(f"cpu {cpu_text!r} is not a number")
        try:
            env = parse_env_entries(entry_lines(self.query_one("#env", TextArea).text))
        except LaunchOptionError as exc:
            advanced.append(str(exc))
            env = {}
        try:
            mounts = parse_mount_entries(entry_lines(self.query_one("#mounts", TextArea).text))
        except LaunchOptionError as exc:
            advanced.append(str(exc))
            mounts = []
        if advanced:
            self.query_one("#advanced", Collapsible).collapsed = False
        self._set_inline("advanced-error", "; ".join(advanced))
        backend = self._radio("backend")
        if backend is None:
            self._show_error("no backend is available (see the health bar)")
            ok = False
        picker = self.query_one(ImagePicker)
        if self._builds_images() and picker.problem():
            self._show_error(picker.problem())
            ok = False
        if not ok or advanced:
            return None
        branch_select: Select[str] = self.query_one("#base-branch", Select)
        return {
            "repo": repo,
            "name": name,
            "agent": self._radio("agent"),
            "backend": backend,
            "image": picker.value if self._builds_images() else None,
            "network": self._radio("network"),
            "base_branch": None if branch_select.is_blank() else branch_select.value,
            "prompt": self.query_one("#prompt", TextArea).text,
            "access_mode": self._radio("access"),
            "skip_permissions": self.query_one("#skip-permissions", Checkbox).value,
            "cpu": cpu,
            "memory": self.query_one("#memory", Input).value.strip() or None,
            "env": env,
            "mounts": mounts,
            "reuse_branch": False,
            "model": model or None,
            "plan_mode": self.query_one("#plan-mode", Checkbox).value,
            **({"images": list(pasted.paths)} if pasted else {}),
            **({"print": True} if self.query_one("#print", Checkbox).value else {}),
            **({"skip_credential_check": True} if self.query_one("#skip-credential-check", Checkbox).value else {}),
        }

    # -- submit and progress ----------------------------------------------------------------------------------
    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_build_image(self) -> None:
        """Build the default image in the engine, its lines shown under the image selector."""
        self.query_one(ImagePicker).build()

    def action_cancel(self) -> None:
        """Close without creating (a create already sent keeps going in the engine)."""
        self.dismiss(None)

    def action_submit(self) -> None:
        """Validate, then ask the engine to create the session."""
        if self.query_one("#submit", Button).disabled:
            return
        request = self.build_request()
        if request is not None:
            self._create(request)

    @work(exclusive=True, group="create")
    async def _create(self, request: dict[str, Any]) -> None:
        submit = self.query_one("#submit", Button)
        submit.disabled = True
        self._show_error("")
        self.query_one("#progress", Static).update("asking the engine…")
        try:
            session = await self.client.create_session(request)
        except Exception as exc:  # shown in the dialog: a day-long app must not die on one bad call
            if not isinstance(exc, ClauderonError):
                log.exception("create_session failed")
            self.query_one("#progress", Static).update("")
            self._show_error(str(exc) or exc.__class__.__name__)
            submit.disabled = False
            return
        self.pending_id = session.id
        latest = getattr(self.app, "sessions", {}).get(session.id, session)
        self.session_changed(latest if latest.updated_at >= session.updated_at else session)

    def session_changed(self, session: Session) -> None:
        """The app forwards every session event here; only the one being created matters."""
        if session.id != self.pending_id or not self.is_attached:
            return
        progress = session.progress
        steps = f"[{progress.step}/{progress.total}] " if progress.total else ""
        self.query_one("#progress", Static).update(
            Content.from_markup("$steps$message", steps=steps, message=progress.message or session.status.value))
        if session.status == Status.RUNNING:
            self.dismiss(session.id)
        elif session.status == Status.FAILED:
            self._show_error(session.error or "the session failed to start")
            self.pending_id = None
            self.query_one("#submit", Button).disabled = False


def _opt(value: object) -> str:
    return "" if value is None else str(value)


def repository_here() -> str | None:
    """The current directory when it lies inside a git repository (a newcomer runs `clauderon` in one)."""
    here = Path.cwd()
    return str(here) if any((folder / ".git").exists() for folder in (here, *here.parents)) else None
