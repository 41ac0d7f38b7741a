"""The session record and the words its two status fields may take."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.backends.registry import DEFAULT_BACKEND


class Status(StrEnum):
    """The container's (or pod's, or process's) life."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    ARCHIVED = "archived"


class AgentStatus(StrEnum):
    """What the agent is doing, filled by hooks; never overlaps with `Status`."""

    UNKNOWN = "unknown"
    WORKING = "working"
    NEEDS_PERMISSION = "needs-permission"
    WAITING_INPUT = "waiting-input"
    IDLE = "idle"
    ERROR = "error"
    EXITED = "exited"


class Progress(BaseModel):
    step: int = 0
    total: int = 0
    message: str = ""


class Mount(BaseModel):
    host: str
    path: str
    readonly: bool = False


class PrintRun(BaseModel):
    """A print-mode session's headless run (`create --print`): filled in when the run ends."""

    exit_status: int | None = None
    """The agent process's exit status; None while it runs, or when the run was cut off (`result` says why)."""
    result: str | None = None
    """The agent's final message (its error when the run failed)."""
    transcript: str | None = None
    """The run's transcript, as a path inside the agent home (the transcript route reads it)."""
    finished_at: float | None = None


class Session(BaseModel):
    """One agent session: a worktree, a branch and a container (or pod, or local process)."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    name: str
    repo_path: str
    subdir: str = ""
    base_branch: str
    branch: str
    worktree_path: str
    own_repository: bool = False
    """The worktree is a repository of the session's own (sandboxed sessions since the own-repository
    model); False for a linked worktree of the user's repository (local sessions, older sessions)."""
    included_paths: list[str] = Field(default_factory=list)
    """What `.worktreeinclude` copied into the worktree at create (not work a delete would lose)."""
    sandbox_changes: dict[str, Any] | None = None
    """The last look inside the sandbox (`branch_sync`): `taken_at`, `tip`, `uncommitted` and `ignored`
    paths, `committed` (`files`, `added`, `removed` against the base), or `error` when the branch could not
    be brought back."""
    backend: str = DEFAULT_BACKEND
    backend_id: str | None = None
    agent: str = "claude"
    image: str | None = None
    network_mode: str = "auto"
    cpu: float | None = None
    memory: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    access_mode: str = "read-write"
    initial_prompt: str = ""
    initial_images: list[str] = Field(default_factory=list)
    """Images given at create (the agent's paths to its copies): typed in with the prompt once the agent is up."""
    skip_permissions: bool = False
    model: str | None = None
    """The model the agent's CLI is started with (`--model`); None: the CLI's own default."""
    plan_mode: bool = False
    """Start the agent in its read-only planning mode (Claude Code's `--permission-mode plan`)."""
    permission_mode: str | None = None
    """The permission mode the agent last reported (its hooks, or its status line): `plan`, `default`, ..."""
    print_run: PrintRun | None = None
    """Set for a print-mode session: its prompt ran headless and the sandbox went when it ended."""
    title: str | None = None
    """A display title (generated from the prompt, or set by the person); never the name or the branch."""
    description: str | None = None
    """A one-line description, as the title."""
    status: Status = Status.CREATING
    agent_status: AgentStatus = AgentStatus.UNKNOWN
    agent_detail: dict[str, Any] | None = None
    """What the agent status is about: `tool`, `input`, `message`, `question` or `reason` (from hooks)."""
    error: str | None = None
    paused: str | None = None
    """Why the engine froze the sandbox (its worktree grew while the disk was below `min_free_space`);
    None while it runs. `clauderon resume` thaws it."""
    disk_bytes: int | None = None
    """What the worktree and agent home take on the disk, as last measured."""
    progress: Progress = Field(default_factory=Progress)
    agent_session_id: str | None = None
    credential_names: list[str] = Field(default_factory=list)
    """Credentials the proxy injects for this session (names only, never values)."""
    egress: str = "open"
    pr: dict[str, Any] | None = None
    """The session's pull request as last seen (`pr_watch.PrState` JSON), or None before one exists."""
    proxy_password_hash: str | None = None
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)

    def touch(self) -> None:
        self.updated_at = time.time()

    def public(self) -> dict[str, Any]:
        """The record as the API shows it (no secret material, not even hashes)."""
        return self.model_dump(mode="json", exclude={"proxy_password_hash"})


class Tombstone(BaseModel):
    """What is left of a deleted session, so a late-found container is never mistaken for a live one."""

    id: str
    name: str
    backend_id: str | None = None
    deleted_at: float = Field(default_factory=time.time)
