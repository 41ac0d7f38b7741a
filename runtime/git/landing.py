"""Landing a session's work on GitHub: push its branch, open a pull request, read its state, merge it.

Everything here runs on the host with the REAL `github_token`, which the caller passes in (the engine
gets it from the proxy's credential store: `credential_store_for(home, settings).get("github_token")`).
The token must never land anywhere an agent or a log could read it back:

- git receives it as `http.<push-url>.extraHeader` through `GIT_CONFIG_COUNT`/`KEY_n`/`VALUE_n` in the
  environment of the one `git push` process, so it is not in git config files, not in a remote URL,
  not on any argv (visible in `ps`), and not in the logged command line. The header is scoped to the
  exact push URL, so a URL rewrite (`url.*.pushInsteadOf`) cannot carry it to another host.
- the REST calls send it as `Authorization: Bearer` (see `github.py`).

Host git goes through `gitsafe` (hooks, filters, helpers disabled), against the user's repository named
by its git directory, so nothing here touches the session's worktree.
"""

from __future__ import annotations

import base64
import logging
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from runtime.errors import ClauderonError, Conflict
from runtime.git.github import GitHubClient, GitHubError, RepoRef, parse_remote_url
from runtime.git.pr_watch import PrState, build_pr_state
from runtime.git.safety import GitContext, discover, last_line
from runtime.models import Session
from runtime.settings import GitHubSettings

log = logging.getLogger(__name__)

MergeMethod = Literal["merge", "squash", "rebase"]
MERGE_METHODS: tuple[str, ...] = ("merge", "squash", "rebase")
TITLE_LIMIT = 72


class ReadOnlySession(ClauderonError):
    """A read-only session asked to write to GitHub."""

    status = 403


@dataclass(frozen=True)
class PushResult:
    """What `push` sent: the branch, its commit, and where it went (a URL without any credential)."""

    branch: str
    sha: str
    url: str
    repo: str  # owner/name


@dataclass(frozen=True)
class PullRequest:
    """A session's pull request; `created` is False when an open one already existed."""

    number: int
    html_url: str
    head: str
    base: str
    draft: bool
    created: bool


@dataclass(frozen=True)
class MergeResult:
    number: int
    method: str
    sha: str  # the merge (or squash, or last rebased) commit on the base branch
    branch_deleted: bool


# ---- the user's repository, on the host -----------------------------------------------------------

@dataclass(frozen=True)
class HostRepo:
    """The user's repository, named by its common git directory (never through the session's worktree)."""

    common_dir: Path

    @classmethod
    def of(cls, session: Session) -> HostRepo:
        proc = discover(Path(session.repo_path), ["rev-parse", "--path-format=absolute", "--git-common-dir"],
                        check=False)
        if proc.returncode != 0:
            raise ClauderonError(f"cannot read the repository {session.repo_path} of session {session.name}: "
                                 f"{last_line(proc.stderr)}")
        return cls(Path(proc.stdout.strip()))

    @property
    def context(self) -> GitContext:
        return GitContext(self.common_dir)

    def remote_url(self, remote: str) -> str:
        for key in (f"remote.{remote}.pushurl", f"remote.{remote}.url"):
            proc = self.context.run(["config", "--get", key], check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
        raise ClauderonError(f"{self.common_dir.parent} has no remote {remote!r}; add it with "
                             f"`git remote add {remote} https://github.com/<owner>/<repo>.git` or set [github] remote")

    def sha(self, ref: str) -> str | None:
        proc = self.context.run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        return (proc.stdout.strip() or None) if proc.returncode == 0 else None

    def branch_sha(self, branch: str) -> str:
        sha = self.sha(f"refs/heads/{branch}")
        if sha is None:
            raise ClauderonError(f"branch {branch} does not exist in {self.common_dir.parent}; "
                                 "the session's branch was deleted, so there is nothing to land")
        return sha

    def base_ref(self, base: str, remote: str) -> str:
        for ref in (f"refs/heads/{base}", f"refs/remotes/{remote}/{base}", f"refs/remotes/{base}"):
            if self.sha(ref):
                return ref
        raise ClauderonError(f"base branch {base!r} does not exist in {self.common_dir.parent}; "
                             "fetch it or recreate the session with an existing base")


def github_repo(session: Session, settings: GitHubSettings) -> RepoRef:
    """The GitHub repository the session's repository pushes to (from `[github] remote`'s URL)."""
    return parse_remote_url(HostRepo.of(session).remote_url(settings.remote), settings.git_host)


# ---- push -----------------------------------------------------------------------------------------

def auth_header(token: str) -> str:
    """The header git sends: GitHub takes `x-access-token:<token>` as Basic credentials for https git."""
    return "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def push(session: Session, settings: GitHubSettings, token: str, *, force: bool = False) -> PushResult:
    """Push `refs/heads/<session branch>` from the user's repository to the same branch on GitHub.

    Blocking (runs git): call it through `asyncio.to_thread` from the engine.
    """
    _require_writable(session, "push")
    _require_token(token)
    repo = HostRepo.of(session)
    target = parse_remote_url(repo.remote_url(settings.remote), settings.git_host)
    sha = repo.branch_sha(session.branch)
    ref = f"refs/heads/{session.branch}"
    refspec = f"{'+' if force else ''}{ref}:{ref}"
    log.info("pushing %s (%s) to %s", session.branch, sha[:12], target.push_url)
    proc = repo.context.run(["push", "--porcelain", target.push_url, refspec], check=False,
                            extra_config=[(f"http.{target.push_url}.extraHeader", auth_header(token))])
    if proc.returncode != 0:
        raise _push_error(session, target, proc, token)
    return PushResult(session.branch, sha, target.push_url, target.slug)


def _push_error(session: Session, target: RepoRef, proc: subprocess.CompletedProcess[str],
                token: str) -> ClauderonError:
    said = (last_line(proc.stderr) or last_line(proc.stdout)).replace(token, "***")
    text = proc.stderr + proc.stdout
    if "[rejected]" in text or "non-fast-forward" in text or "fetch first" in text:
        return Conflict(f"push of {session.branch} to {target.slug} was rejected: GitHub has commits the "
                        "session branch lacks; rebase the session on them, or push with force")
    if "401" in text or "Authentication failed" in text or "could not read Username" in text:
        return ClauderonError(f"GitHub refused github_token for {target.slug} ({said}); "
                              "check it with `clauderon credentials`", status=401)
    return ClauderonError(f"push of {session.branch} to {target.push_url} failed: {said}", status=502)


# ---- pull requests ----------------------------------------------------------------------------------

def pr_text(session: Session, summary: str | None) -> tuple[str, str]:
    """The PR title and body: from the agent's last summary and the session's prompt."""
    def first_line(text: str) -> str:
        return next((line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip()), "")

    title = first_line(summary or "") or first_line(session.initial_prompt) or f"clauderon: {session.name}"
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1].rstrip() + "…"
    parts = []
    if summary and summary.strip():
        parts.append(f"## Summary\n\n{summary.strip()}")
    if session.initial_prompt.strip():
        parts.append(f"## Prompt\n\n{session.initial_prompt.strip()}")
    parts.append(f"---\nOpened by clauderon from session `{session.name}` (branch `{session.branch}`).")
    return title, "\n\n".join(parts)


async def create_pr(session: Session, settings: GitHubSettings, token: str, *, draft: bool = False,
                    summary: str | None = None) -> PullRequest:
    """Open a PR from the session branch into its base branch (or return the open one already there).

    The branch must be on GitHub first (`push`).
    """
    _require_writable(session, "open a pull request")
    _require_token(token)
    repo = github_repo(session, settings)
    async with GitHubClient(settings.api_url, token) as gh:
        existing = await gh.find_open_pull(repo, session.branch, session.base_branch)
        if existing:
            return _pull(existing, created=False)
        title, body = pr_text(session, summary)
        made = await gh.create_pull(repo, title=title, body=body, head=session.branch,
                                    base=session.base_branch, draft=draft)
    log.info("opened %s#%s for session %s", repo.slug, made.get("number"), session.name)
    return _pull(made, created=True)


async def pr_state(session: Session, settings: GitHubSettings, token: str,
                   number: int | None = None) -> PrState | None:
    """The PR's current state (checks, reviews, mergeability, stage); None when the session has no open PR."""
    _require_token(token)
    repo = github_repo(session, settings)
    async with GitHubClient(settings.api_url, token) as gh:
        if number is None:
            found = await gh.find_open_pull(repo, session.branch)
            if not found:
                return None
            number = int(found["number"])
        pull = await gh.get_pull(repo, number)
        sha = pull["head"]["sha"]
        runs = await gh.check_runs(repo, sha)
        status = await gh.combined_status(repo, sha)
        reviews = await gh.reviews(repo, number)
    return build_pr_state(pull, runs, status, reviews)


async def pr_opened_since(session: Session, settings: GitHubSettings, token: str, since: float) -> PrState | None:
    """The state of the newest PR from the session's branch opened at or after `since` (the session's
    creation: an older PR from a branch of the same name belongs to an earlier session), or None."""
    _require_token(token)
    repo = github_repo(session, settings)
    async with GitHubClient(settings.api_url, token) as gh:
        # GitHub's times are whole seconds: a PR opened in the second the session was made counts.
        pulls = [p for p in await gh.pulls_from(repo, session.branch) if _created_at(p) >= int(since)]
    if not pulls:
        return None
    return await pr_state(session, settings, token, max(int(p["number"]) for p in pulls))


def _created_at(pull: dict[str, Any]) -> float:
    """GitHub's `created_at` (`2026-12-04T10:00:00Z`) as a timestamp; 0 when it is missing or unreadable."""
    try:
        return datetime.fromisoformat(str(pull.get("created_at"))).timestamp()
    except ValueError:
        return 0.0


async def merge(session: Session, settings: GitHubSettings, token: str, *, number: int | None = None,
                method: str = "merge", delete_branch: bool = False) -> MergeResult:
    """Merge the session's PR on GitHub with `method`, optionally deleting the branch on GitHub after.

    GitHub is told the session branch's local commit, so it refuses (409) when the PR holds anything
    else, such as commits the session never pushed or someone else's push.
    """
    _require_writable(session, "merge")
    _require_token(token)
    if method not in MERGE_METHODS:
        raise ClauderonError(f"unknown merge method {method!r}; use one of {', '.join(MERGE_METHODS)}")
    host = HostRepo.of(session)
    repo = parse_remote_url(host.remote_url(settings.remote), settings.git_host)
    sha = host.branch_sha(session.branch)
    async with GitHubClient(settings.api_url, token) as gh:
        if number is None:
            found = await gh.find_open_pull(repo, session.branch)
            if not found:
                raise ClauderonError(f"session {session.name} has no open pull request on {repo.slug}; "
                                     f"open one with `clauderon pr {session.name}`", status=404)
            number = int(found["number"])
        merged = await gh.merge_pull(repo, number, method=method, sha=sha)
        if not merged.get("merged", True):
            raise GitHubError(f"GitHub did not merge {repo.slug}#{number}: {merged.get('message', 'no reason given')}",
                              status=409)
        deleted = False
        if delete_branch:
            await gh.delete_branch(repo, session.branch)
            deleted = True
    log.info("merged %s#%s (%s) for session %s", repo.slug, number, method, session.name)
    return MergeResult(number, method, str(merged.get("sha", "")), deleted)


# ---- local conflict check ---------------------------------------------------------------------------

def local_conflicts(session: Session, remote: str = "origin") -> list[str]:
    """Paths that conflict when merging the session branch into its base, computed without a worktree.

    `git merge-tree --write-tree` (git >= 2.38) merges in the object store only: the session's worktree
    and index stay as they are. The base is the local branch (else `<remote>/<base>`), as last fetched.
    Blocking: call it through `asyncio.to_thread`.
    """
    repo = HostRepo.of(session)
    base = repo.base_ref(session.base_branch, remote)
    repo.branch_sha(session.branch)
    proc = repo.context.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", base,
                             f"refs/heads/{session.branch}"], check=False)
    if proc.returncode == 0:
        return []
    if proc.returncode != 1:
        raise ClauderonError(f"git merge-tree failed in {repo.common_dir}: {last_line(proc.stderr)} "
                             "(needs git 2.38 or newer)")
    _tree, *paths = proc.stdout.split("\0")
    return sorted({p for p in paths if p})


# ---- helpers ----------------------------------------------------------------------------------------

def _require_writable(session: Session, action: str) -> None:
    if session.access_mode == "read-only":
        raise ReadOnlySession(f"session {session.name} is read-only, so it cannot {action}; "
                              f"switch it with `clauderon set-access-mode {session.name} read-write` first")


def _require_token(token: str | None) -> None:
    if not token:
        raise ClauderonError("no github_token is configured; set GITHUB_TOKEN (or GH_TOKEN) or write it to "
                             "CLAUDERON_HOME/secrets/github_token, then check `clauderon credentials`", status=401)


def _pull(data: dict[str, Any], *, created: bool) -> PullRequest:
    return PullRequest(int(data["number"]), str(data.get("html_url", "")), data["head"]["ref"],
                       data["base"]["ref"], bool(data.get("draft", False)), created)
