"""Session life-cycle operations: create (asynchronous, rolled back on failure), delete, archive,
unarchive, restart. Each runs under the session's lock and the engine's concurrency limit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runtime.agents.home import prepare_agent_home
from runtime.agents.registry import agent_named
from runtime.agents.user import agent_user
from runtime.backends.base import Backend, LaunchSpec
from runtime.engine.backend_set import BackendSet
from runtime.engine.egress import BRIDGE_PROXY_HOST, HOST_NETWORK_PROXY_HOST, Egress
from runtime.engine.launch import WORKSPACE, build_launch_spec
from runtime.engine.messages import MAX_IMAGES, first_message
from runtime.engine.print_runs import PrintRuns, refuse_print
from runtime.engine.records import SessionRecords
from runtime.engine.streams import TerminalStreams
from runtime.engine.tasks import BackgroundTasks
from runtime.engine.titles import MAX_DESCRIPTION, MAX_TITLE, TitleMaker
from runtime.errors import ClauderonError, Conflict
from runtime.git.branch_sync import BranchSync, unsaved_work
from runtime.git.bundles import BundleSource, bundle_branch, import_bundle
from runtime.git.worktrees import WorktreeManager
from runtime.home import Home
from runtime.models import AgentStatus, PrintRun, Progress, Session, Status
from runtime.names import suggest_name, validate_name
from runtime.relay import RELAY_PORT
from runtime.requests import CreateRequest, check_agent_options, parse_mount, refuse_home_mount
from runtime.settings import Settings
from runtime.textsafe import display_text
from runtime.uploads import check_image_source, store_upload

log = logging.getLogger(__name__)

PAUSE_ENV = "CLAUDERON_TEST_PAUSE_CREATE_AT_STEP"
CREATE_STEPS = ["checking the request", "creating the worktree", "preparing the agent home", "starting the sandbox",
                "attaching the terminal"]


class Lifecycle:
    """Creates, deletes, archives, restarts and otherwise changes sessions, one operation a session at a time
    and at most `[engine] max_concurrent_operations` heavy ones at once."""

    def __init__(self, home: Home, settings: Settings, records: SessionRecords, backends: BackendSet,
                 worktrees: WorktreeManager, egress: Egress, streams: TerminalStreams, branches: BranchSync,
                 tasks: BackgroundTasks, follow_agent: Callable[[Session], None],
                 forget_agent_status: Callable[[str], None]) -> None:
        self.home = home
        self.settings = settings
        self.records = records
        self.store = records.store
        self.backends = backends
        self.worktrees = worktrees
        self.egress = egress
        self.streams = streams
        self.branches = branches
        self.tasks = tasks
        self.follow_agent = follow_agent
        self.forget_agent_status = forget_agent_status
        self._settled: dict[str, asyncio.Event] = {}
        self._naming = asyncio.Lock()
        self._operations = asyncio.Semaphore(settings.engine.max_concurrent_operations)
        self._locks: dict[str, asyncio.Lock] = {}
        self.print_runs = PrintRuns(home, self, tasks.spawn)
        self.titles = TitleMaker(settings.titles, settings.routes, egress.service.credentials, egress.service.rules,
                                 records, tasks, settings.proxy.upstream_ca_bundle)

    def lock_for(self, session_id: str) -> asyncio.Lock:
        """The session's own lock: one operation on a session at a time."""
        return self._locks.setdefault(session_id, asyncio.Lock())

    # ------------------------------------------------------------------ create
    async def create(self, request: CreateRequest) -> Session:
        """Validate, record the session as `creating` and start the work; progress arrives as events."""
        settings = self.settings
        backend_name = request.backend or settings.session.backend
        backend = self.backends.get(backend_name)
        if backend is None:
            raise ClauderonError(f"backend {backend_name!r} is not available in this engine; use docker or local")
        ok, reason = await backend.available()
        if not ok:
            raise ClauderonError(f"backend {backend_name} is unavailable: {reason}")
        agent = request.agent or settings.session.agent
        check_agent_options(agent, model=request.model, plan_mode=request.plan_mode)
        if not request.skip_credential_check:
            await asyncio.to_thread(self.egress.require_credentials, agent)
        if request.print:
            refuse_print(request.agent or settings.session.agent, request.prompt, backend_name,
                         sandboxed=backend.capabilities.sandboxed, plan_mode=request.plan_mode)
        await self._check_images(request, agent)
        repo_root, subdir = await asyncio.to_thread(self.worktrees.resolve_repo, request.repo)
        async with self._naming:  # from the name check to the record: two creates of one name cannot cross
            taken = {s.name: s for s in self.store.sessions()}
            name = request.name or suggest_name(request.prompt, set(taken), fallback=_fallback_name(repo_root))
            validate_name(name)
            existing = taken.get(name)
            if existing is not None and existing.status != Status.FAILED:
                raise Conflict(f"a session named {name} already exists; pick another --name or delete it first")
            if existing is None and (owner := await backend.owner_of(name)) and owner != self.home.home_id:
                raise Conflict(f"a container clauderon-{name} belongs to another clauderon home; pick another --name")
            self.egress.refuse_real_credentials(request.env, {
                "prompt": request.prompt, "name": name, "image": request.image, "base branch": request.base_branch,
                "mounts": " ".join(request.mounts)})
            mounts = [refuse_home_mount(parse_mount(m), self.home.root) for m in request.mounts]
            for mount in mounts:
                if not Path(mount.host).exists():
                    raise ClauderonError(f"mount source {mount.host} does not exist")
            base_branch = request.base_branch
            if not base_branch:
                base_branch = await asyncio.to_thread(self.worktrees.current_branch, repo_root)
            if existing is not None:  # a failed attempt of the same name: whatever it left goes, then its record
                await self.discard_interrupted(existing)
                await self.records.write(self.store.remove, existing)
                # Viewers drop its row: the retry is a new session of the same name, never a second row.
                self.records.events.publish({"type": "deleted", "session_id": existing.id, "name": existing.name})
            session = Session(
                name=name, repo_path=str(repo_root), subdir=subdir, base_branch=base_branch,
                branch=f"clauderon/{name}", worktree_path=str(self.home.worktree(name)), backend=backend_name,
                agent=agent, model=request.model or settings.default_model(agent), plan_mode=request.plan_mode,
                image=request.image or backend.default_image(settings),
                network_mode=request.network or settings.docker.network,
                cpu=request.cpu if request.cpu is not None else settings.docker.cpu,
                memory=request.memory or settings.docker.memory, env=dict(request.env), mounts=mounts,
                access_mode=request.access_mode or settings.session.access_mode, initial_prompt=request.prompt,
                skip_permissions=(request.print or settings.session.skip_permissions if request.skip_permissions
                                  is None else request.skip_permissions),
                print_run=PrintRun() if request.print else None,
                egress=settings.proxy.egress,
                # A container that mounts the checkout gets a repository of its own; a pod copies it anyway.
                own_repository=backend.capabilities.sandboxed and not backend.capabilities.copies_workspace,
                progress=Progress(step=1, total=len(CREATE_STEPS), message=CREATE_STEPS[0]),
            )
            session.agent_session_id = agent_named(session.agent).new_conversation_id()
            await self.records.save(session)
            await self.records.write(self.store.add_recent_repo, str(repo_root), session.image)
        self._settled[session.id] = asyncio.Event()
        self.titles.schedule(session, settled=lambda: self.wait_settled(session.id))
        self.tasks.spawn(self._create_work(session, request.reuse_branch, request.images))
        return session

    def is_creating(self, session_id: str) -> bool:
        """Whether this engine is creating the session right now (not a create a previous engine left)."""
        return session_id in self._settled

    async def _first_message(self, session: Session) -> None:
        """The prompt and images of a create, typed in once the agent reads its input."""
        if not await first_message(self.streams.stream(session.id), session.initial_prompt, session.initial_images):
            log.warning("session %s: the agent never started reading its input; its prompt was not sent",
                        session.name)

    async def wait_settled(self, session_id: str, timeout: float | None = None) -> Session:
        """Wait until a create finished (running or failed)."""
        event = self._settled.get(session_id)
        if event is not None:
            await asyncio.wait_for(event.wait(), timeout)
        return self.store.get(session_id)

    @staticmethod
    async def _check_images(request: CreateRequest, agent: str) -> None:
        """Images at create go with the prompt, typed into an interactive agent: one line for anything else."""
        if not request.images:
            return
        if request.print:
            raise ClauderonError("images go with an interactive session; --print runs the prompt alone")
        if agent_named(agent).model_option is None:
            raise ClauderonError(f"the {agent} agent reads no images; use --agent claude, codex or gemini")
        if not request.prompt.strip():
            raise ClauderonError("images go with a prompt: give one with --prompt")
        if len(request.images) > MAX_IMAGES:
            raise ClauderonError(f"at most {MAX_IMAGES} images per message")
        for image in request.images:
            await asyncio.to_thread(check_image_source, image)

    async def _create_work(self, session: Session, reuse_branch: bool, images: Sequence[str] = ()) -> None:
        created: dict[str, Any] = {}
        try:
            async with self._operations, self.lock_for(session.id):
                await self._step(session, 2)
                # The worktree and the agent home need nothing of each other: made at once (both git work).
                info, made_home = await asyncio.gather(asyncio.to_thread(
                    self.worktrees.create, session.repo_path, session.name, session.base_branch,
                    reuse_branch=reuse_branch, own_repository=session.own_repository,
                    include_check=self.egress.include_check(self.settings.worktree.allow_secret_files),
                ), asyncio.to_thread(
                    prepare_agent_home, self.home, session.id, git_user_name=None, git_user_email=None,
                    repo_path=session.repo_path,
                ), return_exceptions=True)
                if not isinstance(made_home, BaseException):
                    created["agent_home"] = made_home
                if isinstance(info, BaseException):
                    raise info
                created["worktree"] = info
                if isinstance(made_home, BaseException):
                    raise made_home
                session.included_paths = list(info.included)
                await self._step(session, 3)
                sandboxed = self.backends.of(session).capabilities.sandboxed
                for image in images:
                    upload = await asyncio.to_thread(store_upload, image, self.home.agent_home(session.id),
                                                     sandboxed=sandboxed)
                    session.initial_images.append(upload.agent_path)
                await self._step(session, 4)
                spec = await self._launch_spec(session, resume=False)
                session.backend_id = await self.backends.of(session).create(
                    spec, progress=lambda m: self._progress(session, 4, m))
                created["backend_id"] = session.backend_id
                await self._step(session, 5)
                await self.streams.start(session, fresh=True)
                session.status, session.error = Status.RUNNING, None
                session.progress = Progress(step=len(CREATE_STEPS), total=len(CREATE_STEPS), message="running")
                await self.records.save(session)
                self.follow_agent(session)
                if session.initial_images and agent_named(session.agent).image_option is None:
                    self.tasks.spawn(self._first_message(session))
                if session.print_run is not None:
                    self.print_runs.start(session)
        except Exception as exc:  # roll back everything, then say why in one line
            message = (str(exc) if isinstance(exc, ClauderonError)
                       else f"unexpected error: {exc.__class__.__name__}: {exc}")
            if not isinstance(exc, ClauderonError):
                log.exception("create of %s failed", session.name)
            await self._rollback(session, created)
            session.status, session.error, session.backend_id = Status.FAILED, message, None
            session.progress = Progress(step=0, total=len(CREATE_STEPS), message="failed")
            if self.store.find(session.id) is not None:
                await self.records.save(session)
        finally:
            event = self._settled.pop(session.id, None)
            if event is not None:
                event.set()

    async def _launch_spec(self, session: Session, *, resume: bool) -> LaunchSpec:
        """The launch spec with this launch's proxy credentials (a new password each launch)."""
        backend = self.backends.of(session)
        proxy_host, proxy_port = await self._proxy_address(session)
        env, mounts = self.egress.launch_env(session, sandboxed=backend.capabilities.sandboxed, proxy_host=proxy_host,
                                               proxy_port=proxy_port)
        workspace = WORKSPACE if backend.capabilities.sandboxed else session.worktree_path
        await asyncio.to_thread(self.egress.write_agent_files, session, env, self.home.agent_home(session.id),
                                workspace)
        await self.records.write(self.store.put, session)  # the new password hash and credential set
        spec = build_launch_spec(self.home, self.settings, self.worktrees, session, resume=resume,
                                 extra_env=env, extra_mounts=mounts)
        if backend.capabilities.sandboxed and not backend.capabilities.copies_workspace:
            spec.user = await asyncio.to_thread(
                agent_user, Path(session.worktree_path), self.home.agent_home(session.id),
                [Path(m.host) for m in spec.mounts if m.readonly], self.settings.docker.run_as_user)
        spec.record = json.dumps(session.public())
        if proxy_port == RELAY_PORT and not backend.capabilities.copies_workspace:
            spec.proxy_socket_dir = str(await self.egress.sealed.open(session.id))
        if backend.capabilities.copies_workspace and not resume:
            spec.workspace_bundle = await asyncio.to_thread(bundle_branch, self.worktrees, session)
        return spec

    async def _proxy_address(self, session: Session) -> tuple[str, int | None]:
        """Where this sandbox reaches the proxy: loopback (host network, local), the bridge gateway, or
        for pods the configured `[kubernetes] proxy_url`."""
        backend = self.backends.of(session)
        if backend.capabilities.copies_workspace:
            url = urlsplit(self.settings.kubernetes.proxy_url or "")
            if not url.hostname:
                raise ClauderonError("set [kubernetes] proxy_url (how pods reach this engine's proxy) before "
                                     "creating pod sessions")
            return url.hostname, url.port
        network = await backend.resolve_network(session.network_mode) if backend.capabilities.sandboxed else "host"
        if network == "sealed":
            return HOST_NETWORK_PROXY_HOST, RELAY_PORT  # the relay, inside the agent's own namespace
        self.egress.require_shared_port()
        if network == "bridge":
            return BRIDGE_PROXY_HOST, None
        return HOST_NETWORK_PROXY_HOST, None

    async def _step(self, session: Session, step: int) -> None:
        """Announce a create step. `CLAUDERON_TEST_PAUSE_CREATE_AT_STEP=<n>` (tests only) holds the create
        there for good, so a test can kill the engine at that step."""
        self._progress(session, step)
        if os.environ.get(PAUSE_ENV) == str(step):
            log.warning("create of %s held at step %d (%s is set)", session.name, step, PAUSE_ENV)
            await asyncio.Event().wait()

    def _progress(self, session: Session, step: int, message: str | None = None) -> None:
        session.progress = Progress(step=step, total=len(CREATE_STEPS), message=message or CREATE_STEPS[step - 1])
        # Announced, not stored: progress is transient (a restarted engine rolls an unfinished create back
        # anyway), and an fsync per step was a third of the engine's create time.
        self.records.publish(session)

    async def discard_interrupted(self, session: Session) -> None:
        """Remove what a create the engine did not finish may have made (its sandbox found by name, its
        worktree, its agent home); a branch holding commits is kept, as `delete` keeps it."""
        try:
            await self.backends.of(session).remove_leftovers(session.id, session.name, self.home.home_id)
        except ClauderonError as exc:
            log.warning("could not remove the sandbox of the interrupted create of %s: %s", session.name, exc)

        def discard_worktree() -> None:
            if Path(session.worktree_path).exists() or self.worktrees.branch_exists(session.repo_path, session.branch):
                self.worktrees.remove(session, True)

        try:
            await asyncio.to_thread(discard_worktree)
        except ClauderonError as exc:  # e.g. the repository is gone: nothing of it to undo
            log.warning("could not remove the worktree of the interrupted create of %s: %s", session.name, exc)
        await asyncio.to_thread(shutil.rmtree, self.home.agent_home(session.id), ignore_errors=True)
        await self.egress.sealed.close(session.id)

    async def _rollback(self, session: Session, created: dict[str, Any]) -> None:
        await self.streams.stop(session.id)
        self.streams.drop(session.id)
        if created.get("backend_id"):
            try:
                await self.backends.of(session).remove(created["backend_id"])
            except Exception:
                log.exception("rollback: could not remove %s", created["backend_id"])
        if "worktree" in created:
            try:
                await asyncio.to_thread(self.worktrees.remove, created["worktree"], True)
            except Exception:
                log.exception("rollback: could not remove worktree of %s", session.name)
        if "agent_home" in created:
            await asyncio.to_thread(shutil.rmtree, created["agent_home"], ignore_errors=True)

    # ------------------------------------------------------------------ delete / archive / restart
    async def delete(self, ref: str, force: bool = False) -> dict[str, Any]:
        session = self.records.require_known(ref)
        async with self._operations, self.lock_for(session.id):
            result = {"branch_kept": False, "reason": ""}
            has_worktree = Path(session.worktree_path).exists()
            if has_worktree and not force:
                await self._refuse_losing_work(session)
            await self.streams.stop(session.id)
            self.streams.drop(session.id)
            if session.backend_id:
                await self.backends.of(session).remove(session.backend_id)
            if has_worktree or session.status != Status.FAILED:
                removed = await asyncio.to_thread(self.worktrees.remove, session, force)
                result = {"branch_kept": removed.branch_kept, "reason": removed.reason}
            # An agent home holds the agent's caches (thousands of files): never removed on the loop.
            await asyncio.to_thread(shutil.rmtree, self.home.agent_home(session.id), ignore_errors=True)
            self.egress.forget(session)
            await self.egress.sealed.close(session.id)
            self.forget_agent_status(session.id)
            self.branches.forget(session.id)
            await self.records.write(self.store.remove, session)
            self.records.events.publish({"type": "deleted", "session_id": session.id, "name": session.name})
            return result

    async def _refuse_losing_work(self, session: Session) -> None:
        """Refuse (Conflict) a delete that would lose work: uncommitted changes or ignored files that
        `.worktreeinclude` did not copy in. A sandboxed session's own repository is asked inside its
        sandbox (bringing its commits back first); a stopped one answers from the last look."""
        if session.own_repository:
            try:
                await self.branches.sync(session)
            except ClauderonError as exc:
                raise Conflict(f"{exc}; fix that, or `clauderon delete {session.name} --force` to delete the "
                               "session without bringing its commits back") from None
            lost = unsaved_work(self.store.get(session.id), self.settings.worktree.disposable)
        else:
            lost = await asyncio.to_thread(self.worktrees.unsaved_paths, session, session.included_paths,
                                           self.settings.worktree.disposable)
        if lost:
            shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
            raise Conflict(f"session {session.name} has uncommitted work: {shown}; commit or copy it out "
                           f"(`clauderon pull {session.name}` brings commits back), or "
                           f"`clauderon delete {session.name} --force` to discard it")

    async def archive(self, ref: str) -> Session:
        session = self.records.require_known(ref)
        async with self.lock_for(session.id):
            if session.status == Status.ARCHIVED:
                return session
            if session.status == Status.CREATING:
                raise Conflict(f"session {session.name} is still being created; wait for it first")
            try:  # the branch in the user's repository is what an archived session shows
                await self.branches.sync(session)
            except ClauderonError as exc:  # archive keeps the worktree: nothing is lost by going on
                log.warning("archive of %s: %s", session.name, exc)
            await self.streams.stop(session.id)
            self.streams.drop(session.id)
            if session.backend_id:
                await self.backends.of(session).archive(session.backend_id)
            session.status, session.backend_id = Status.ARCHIVED, None
            session.agent_status, session.agent_detail = AgentStatus.UNKNOWN, None
            return await self.records.save(session)

    async def rename(self, ref: str, title: str | None = None, description: str | None = None) -> Session:
        """Set the display title and description (None leaves one as it is, "" clears it); the session's name
        and branch stay what they are."""
        session = self.records.require_known(ref)
        await self.wait_settled(session.id)  # a create's last write would put back the record it holds
        changes = {field: display_text(value, single_line=True, limit=limit).strip() or None
                   for field, value, limit in (("title", title, MAX_TITLE), ("description", description,
                                                                            MAX_DESCRIPTION))
                   if value is not None}
        if not changes:
            raise ClauderonError("nothing to rename: give a title or a description")
        return await self.records.update(session.id, **changes)

    async def unarchive(self, ref: str) -> Session:
        session = self.records.require_known(ref)
        if session.status != Status.ARCHIVED:
            raise Conflict(f"session {session.name} is not archived (it is {session.status})")
        return await self._relaunch(session)

    async def restart(self, ref: str) -> Session:
        session = self.records.require_known(ref)
        if session.status == Status.CREATING:
            raise Conflict(f"session {session.name} is still being created; wait for it first")
        return await self._relaunch(session)

    async def _relaunch(self, session: Session) -> Session:
        """A fresh sandbox on the same worktree and agent home; the agent resumes its conversation."""
        if session.print_run is not None:
            raise Conflict(f"session {session.name} was a print run; its sandbox does not come back: see its result "
                           "with `clauderon list --json`, or create a new session")
        async with self._operations, self.lock_for(session.id):
            if not Path(session.worktree_path).exists():
                raise ClauderonError(f"the worktree {session.worktree_path} of {session.name} is gone; "
                                     "delete the session")
            await self.streams.stop(session.id)  # the stream itself stays: viewers see the new sandbox
            backend = self.backends.of(session)
            if session.backend_id:
                await self.drop_sandbox(backend, session.backend_id)
            session.backend_id, session.error, session.paused = None, None, None
            capabilities = backend.capabilities
            if capabilities.sandboxed and not capabilities.copies_workspace and not session.own_repository:
                # A session from before the own-repository model moves to it now, its sandbox stopped.
                await asyncio.to_thread(self.worktrees.move_to_own_repository, session)
                session.own_repository = True
                await self.records.save(session)
            self.home.agent_home(session.id).mkdir(mode=0o700, exist_ok=True)
            spec = await self._launch_spec(session, resume=True)
            try:
                session.backend_id = await backend.create(spec)
                await self.streams.start(session, fresh=True)
            except ClauderonError as exc:
                if session.backend_id:
                    await self.drop_sandbox(backend, session.backend_id)
                session.status, session.error, session.backend_id = Status.FAILED, str(exc), None
                await self.records.save(session)
                raise
            session.status, session.agent_status, session.agent_detail = Status.RUNNING, AgentStatus.UNKNOWN, None
            session.permission_mode = None  # the agent starts in its start mode again, reported anew
            await self.records.save(session)
            self.follow_agent(session)
            return session

    async def refresh(self, ref: str) -> dict[str, Any]:
        """Pull the newest image for the session from its registry and, when that brought a different image,
        recreate the sandbox on it (the agent resumes its conversation). A failed pull changes nothing."""
        session = self.records.require_known(ref)
        if session.status in (Status.CREATING, Status.ARCHIVED):
            raise Conflict(f"session {session.name} is {session.status}; refresh a session that has a sandbox")
        backend = self.backends.of(session)
        if not backend.capabilities.pulls_images:
            where = ("its cluster's nodes pull images (set [kubernetes] pull_policy = \"Always\" and "
                     f"`clauderon restart {session.name}`)" if backend.capabilities.sandboxed
                     else "it runs on the host, with no image")
            raise Conflict(f"session {session.name} cannot be refreshed on the {backend.name} backend: {where}")
        image = session.image or self.settings.docker.image
        try:
            pulled = await backend.pull_image(image)
        except ClauderonError as exc:
            raise ClauderonError(f"refresh of {session.name}: {exc.message}; the session is as it was") from exc
        if pulled.changed:
            session = await self._relaunch(session)
        return {"name": session.name, "image": image, "old_id": pulled.old_id, "new_id": pulled.new_id,
                "digest": pulled.digest, "changed": pulled.changed, "session": session.public()}

    @staticmethod
    async def drop_sandbox(backend: Backend, backend_id: str) -> None:
        """Remove a sandbox that is about to be replaced. One that copies the workspace holds the session's only
        copy of its work (a pod's volume), so it is archived instead: the next `create` reuses what it kept."""
        if backend.capabilities.copies_workspace:
            await backend.archive(backend_id)
        else:
            await backend.remove(backend_id)

    async def resume(self, ref: str) -> Session:
        """Thaw a session the disk guard paused (after the user made room)."""
        session = self.records.require_known(ref)
        async with self.lock_for(session.id):
            session = self.store.get(session.id)
            if not session.paused:
                raise Conflict(f"session {session.name} is not paused")
            await self.backends.of(session).pause(session.backend_id or "", False)
            return await self.records.update(session.id, paused=None)

    async def set_access_mode(self, ref: str, mode: str) -> Session:
        """Switch read-write / read-only; the proxy applies it to the next request, live."""
        if mode not in ("read-write", "read-only"):
            raise ClauderonError(f"access mode {mode!r} must be read-write or read-only")
        session = self.records.require_known(ref)
        # Both or neither: the store first (a full disk refuses it before the proxy changes), then the
        # proxy; if that fails, the stored mode is put back.
        updated = await self.records.update(session.id, access_mode=mode)
        try:
            self.egress.set_access_mode(session.id, mode)
        except Exception:
            await self.records.update(session.id, access_mode=session.access_mode)
            raise
        return updated

    async def pull(self, ref: str) -> dict[str, Any]:
        """Bring a remote sandbox's commits back to the host repository as the session branch."""
        session = self.records.require_known(ref)
        backend = self.backends.of(session)
        if session.own_repository:
            if session.status != Status.RUNNING:
                raise Conflict(f"session {session.name} is {session.status}; its last commits are already on "
                               f"{session.branch} in {session.repo_path}")
            imported = await self.branches.sync(session)
            return {"branch": session.branch, "sha": imported.tip if imported else None}
        if not backend.capabilities.copies_workspace:
            raise Conflict(f"session {session.name} works on the host worktree; its commits are already in "
                           f"{session.repo_path}")
        if not session.backend_id:
            raise Conflict(f"session {session.name} is {session.status}; restart it to pull its work")
        if not isinstance(backend, BundleSource):
            raise Conflict(f"the {backend.name} backend cannot hand session {session.name}'s branch back")
        data = await backend.fetch_bundle(session.backend_id, session.branch)
        tip = await asyncio.to_thread(import_bundle, self.worktrees, session, data)
        return {"branch": session.branch, "sha": tip}

    # ------------------------------------------------------------------ terminal I/O
    async def send(self, ref: str, text: str, enter: bool = False) -> None:
        """Type `text`, then (separately, after a short pause) Enter: TUIs treat one burst as a paste."""
        stream = self.streams.stream(ref)
        if text:
            await stream.write(text.encode())
        if enter:
            await asyncio.sleep(0.15)
            await stream.write(b"\r")


def _fallback_name(repo_root: Path) -> str:
    return suggest_name(repo_root.name, fallback="session")
