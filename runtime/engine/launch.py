"""Turns a session record into the `LaunchSpec` a backend runs: command, environment, mounts, limits."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from runtime.agents.home import CONTAINER_HOME
from runtime.agents.registry import agent_named
from runtime.backends.base import LaunchSpec
from runtime.backends.registry import capabilities_of
from runtime.engine.print_runs import print_sandbox_command
from runtime.git.worktrees import WorktreeManager
from runtime.home import Home
from runtime.models import Mount, Session
from runtime.settings import Settings

WORKSPACE = "/workspace"


def build_launch_spec(
    home: Home, settings: Settings, worktrees: WorktreeManager, session: Session, *,
    resume: bool, extra_env: dict[str, str] | None = None, extra_mounts: list[Mount] | None = None,
) -> LaunchSpec:
    """Everything the backend needs to start `session` (fresh, or resuming on the same worktree and home)."""
    agent_home = home.agent_home(session.id)
    # A prompt with images is typed once the agent reads its input (`messages.first_message`): the CLI's own
    # argv prompt cannot carry an image.
    typed = session.initial_images and agent_named(session.agent).image_option is None
    starting = session.model_copy(update={"initial_prompt": ""}) if typed else session
    command = (print_sandbox_command(session) or
               agent_named(session.agent).command(starting, resume=resume, agent_home=agent_home))
    sandboxed = capabilities_of(session.backend).sandboxed
    env = {
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "HOME": CONTAINER_HOME if sandboxed else str(agent_home),
        "CLAUDERON_SESSION": session.name,
        **command.env,
        **(extra_env or {}),
        **session.env,
    }
    mounts: list[Mount] = []
    if sandboxed:
        info = worktrees.info(session.repo_path, session.name, session.base_branch, session.subdir, session.branch,
                              session.own_repository)
        mounts = [*worktrees.container_mounts(info), Mount(host=str(agent_home), path=CONTAINER_HOME)]
    mounts += list(extra_mounts or []) + list(session.mounts)
    workdir = str(PurePosixPath(WORKSPACE) / session.subdir) if session.subdir else WORKSPACE
    return LaunchSpec(
        session_id=session.id,
        name=session.name,
        home_id=home.home_id,
        command=command.argv,
        workdir=workdir,
        env=env,
        mounts=mounts,
        image=session.image or settings.docker.image,
        pull_policy=settings.docker.pull_policy,
        network=session.network_mode,
        cpu=session.cpu,
        memory=session.memory,
        user=f"{os.getuid()}:{os.getgid()}",
        extra_capabilities=list(settings.docker.extra_capabilities),
        branch=session.branch,
        host_workdir=os.path.join(session.worktree_path, session.subdir) if session.subdir else session.worktree_path,
    )
