"""A fake GitHub on loopback: a smart-HTTP git server and the REST endpoints landing a session uses.

- git: `/<owner>/<repo>.git/...` is served by git's own `git http-backend` (CGI) from bare repositories
  under a temp dir. Every request must carry `Authorization: Basic base64(x-access-token:<token>)`
  (401 otherwise); each credential seen is recorded in `git_credentials`.
- REST (under `/api/v3`, like GitHub Enterprise): pulls (create, list by head, get, merge), reviews,
  check-runs, combined status, branch deletion. Requires `Authorization: Bearer <token>`.
  Mergeability is computed for real with `git merge-tree` in the bare repository, merges are performed
  there for real (merge commit, squash, or rebase), and checks and reviews are scripted by the test.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from . import FakeUpstream

API = "/api/v3"
_IDENTITY = {"GIT_AUTHOR_NAME": "Fake GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.test",
             "GIT_COMMITTER_NAME": "Fake GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.test"}


def new_token() -> str:
    """A token of GitHub's shape, new for each test."""
    return "ghp_" + os.urandom(18).hex()


@dataclass
class FakePull:
    number: int
    owner: str
    repo: str
    title: str
    body: str
    head: str
    base: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merge_commit_sha: str | None = None
    reviews: list[dict[str, Any]] = field(default_factory=list)
    mergeable_override: bool | None = None  # force `mergeable` (and `dirty`) whatever git says
    created_at: float = field(default_factory=time.time)


class FakeGitHub(FakeUpstream):
    """Serve with `async with`-free `await fake.start()`; repos come from `add_repo`."""

    def __init__(self, token: str, root: Path | None = None) -> None:
        self.token = token
        self.root = Path(root or tempfile.mkdtemp(prefix="fakegh-"))
        self.git_credentials: list[str] = []  # "user:password" of every git request (None-less)
        self.git_unauthorized = 0
        self.pulls: dict[int, FakePull] = {}
        self.check_runs: dict[str, list[dict[str, Any]]] = {}
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.merges: list[dict[str, Any]] = []
        self.deleted_refs: list[str] = []
        self._review_ids = 0
        super().__init__()

    # ---- setup and scripting ------------------------------------------------------------------------

    @property
    def git_host(self) -> str:
        return self.base_url.split("://", 1)[1]

    @property
    def api_url(self) -> str:
        return self.base_url + API

    def repo_url(self, owner: str, name: str) -> str:
        return f"{self.base_url}/{owner}/{name}.git"

    def bare(self, owner: str, name: str) -> Path:
        return self.root / owner / f"{name}.git"

    def serve_as_origin(self, owner: str, name: str, repo: Path) -> None:
        """Serve `repo` as `owner/name` and make this fake its `origin` remote."""
        self.add_repo(owner, name, repo)
        subprocess.run(["git", "remote", "add", "origin", self.repo_url(owner, name)], cwd=repo, check=True)

    def add_repo(self, owner: str, name: str, source: Path) -> Path:
        """A bare copy of `source` served as `<owner>/<name>`."""
        path = self.bare(owner, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.git(None, "clone", "-q", "--bare", str(source), str(path))
        self.git(path, "config", "http.receivepack", "true")
        return path

    def git(self, repo: Path | None, *args: str, check: bool = True) -> str:
        """Run git for the fake itself (its own identity; no user config)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(_IDENTITY, GIT_CONFIG_NOSYSTEM="1", HOME=str(self.root))
        cmd = ["git", *(["--git-dir", str(repo)] if repo else []), *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=self.root)
        if check and proc.returncode != 0:
            raise RuntimeError(f"fake github: {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def ref_sha(self, pull: FakePull, branch: str) -> str | None:
        out = self.git(self.bare(pull.owner, pull.repo), "rev-parse", "--verify", "--quiet",
                       f"refs/heads/{branch}", check=False)
        return out or None

    def head_sha(self, number: int) -> str:
        pull = self.pulls[number]
        return self.ref_sha(pull, pull.head) or ""

    def set_check(self, number: int, name: str, status: str = "completed", conclusion: str | None = "success") -> None:
        """Set (replace by name) a check run on the PR's current head commit."""
        runs = self.check_runs.setdefault(self.head_sha(number), [])
        runs[:] = [r for r in runs if r["name"] != name]
        runs.append({"id": len(runs) + 1, "name": name, "status": status,
                     "conclusion": conclusion if status == "completed" else None})

    def set_status(self, number: int, context: str, state: str) -> None:
        """Set (replace by context) a commit status on the PR's current head commit."""
        items = self.statuses.setdefault(self.head_sha(number), [])
        items[:] = [s for s in items if s["context"] != context]
        items.append({"context": context, "state": state})

    def add_review(self, number: int, user: str, state: str) -> None:
        self._review_ids += 1
        self.pulls[number].reviews.append({"id": self._review_ids, "user": {"login": user}, "state": state,
                                           "submitted_at": f"2026-01-01T00:00:{self._review_ids:02d}Z"})

    # ---- routes ------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_route("*", "/{owner}/{repo}.git/{tail:.*}", self._git)
        p = API + "/repos/{owner}/{repo}"
        r.add_post(p + "/pulls", self._create_pull)
        r.add_get(p + "/pulls", self._list_pulls)
        r.add_get(p + "/pulls/{number}", self._get_pull)
        r.add_get(p + "/pulls/{number}/reviews", self._reviews)
        r.add_put(p + "/pulls/{number}/merge", self._merge)
        r.add_get(p + "/commits/{sha}/check-runs", self._check_runs)
        r.add_get(p + "/commits/{sha}/status", self._status)
        r.add_delete(p + "/git/refs/heads/{branch:.*}", self._delete_ref)

    async def _git(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        seen = ""
        if auth.startswith("Basic "):
            seen = base64.b64decode(auth[6:]).decode("utf-8", "replace")
            self.git_credentials.append(seen)
        if seen != f"x-access-token:{self.token}":
            self.git_unauthorized += 1
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="fake github"'})
        body = await request.read()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root),
               "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1", "GIT_CONFIG_NOSYSTEM": "1",
               "PATH_INFO": request.path, "REQUEST_METHOD": request.method, "QUERY_STRING": request.query_string,
               "CONTENT_TYPE": request.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
               "REMOTE_USER": "x-access-token", "REMOTE_ADDR": "127.0.0.1"}
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
            if header in request.headers:
                env[var] = request.headers[header]
        proc = await asyncio.create_subprocess_exec(
            "git", "http-backend", env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, _err = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        return web.Response(status=status, body=payload, headers=headers)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"message": message}, status=status)

    def _pull_json(self, pull: FakePull) -> dict[str, Any]:
        bare = self.bare(pull.owner, pull.repo)
        head, base = self.ref_sha(pull, pull.head), self.ref_sha(pull, pull.base)
        mergeable: bool | None = pull.mergeable_override
        if mergeable is None and pull.state == "open" and head and base:
            rc = subprocess.run(["git", "--git-dir", str(bare), "merge-tree", "--write-tree", base, head],
                                capture_output=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}).returncode
            mergeable = rc == 0
        mergeable_state = ("dirty" if mergeable is False else "draft" if pull.draft
                           else "clean" if mergeable else "unknown")
        slug = f"{pull.owner}/{pull.repo}"
        created = datetime.fromtimestamp(pull.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"number": pull.number, "html_url": f"{self.base_url}/{slug}/pull/{pull.number}",
                "created_at": created,
                "title": pull.title, "body": pull.body, "state": pull.state, "merged": pull.merged,
                "draft": pull.draft, "mergeable": None if pull.merged else mergeable,
                "mergeable_state": mergeable_state, "merge_commit_sha": pull.merge_commit_sha,
                "head": {"ref": pull.head, "sha": head or pull.merge_commit_sha or ""},
                "base": {"ref": pull.base, "sha": base or ""}}

    def _find(self, request: web.Request) -> FakePull | None:
        pull = self.pulls.get(int(request.match_info["number"]))
        if pull and (pull.owner, pull.repo) == (request.match_info["owner"], request.match_info["repo"]):
            return pull
        return None

    async def _create_pull(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        data = await request.json()
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        if not self.bare(owner, repo).exists():
            return self._error(404, "Not Found")
        pull = FakePull(len(self.pulls) + 1, owner, repo, data["title"], data.get("body", ""),
                        data["head"], data["base"], bool(data.get("draft", False)))
        if self.ref_sha(pull, pull.head) is None:
            return web.json_response({"message": "Validation Failed",
                                      "errors": [{"field": "head", "code": "invalid"}]}, status=422)
        self.pulls[pull.number] = pull
        return web.json_response(self._pull_json(pull), status=201)

    async def _list_pulls(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        head = request.query.get("head", "")
        found = [self._pull_json(p) for p in self.pulls.values()
                 if (p.owner, p.repo) == (owner, repo) and f"{owner}:{p.head}" == head
                 and request.query.get("state", "open") in (p.state, "all")
                 and request.query.get("base", p.base) == p.base]
        return web.json_response(found)

    async def _get_pull(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        pull = self._find(request)
        return web.json_response(self._pull_json(pull)) if pull else self._error(404, "Not Found")

    async def _reviews(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        pull = self._find(request)
        return web.json_response(pull.reviews) if pull else self._error(404, "Not Found")

    async def _check_runs(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        runs = self.check_runs.get(request.match_info["sha"], [])
        return web.json_response({"total_count": len(runs), "check_runs": runs})

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        items = self.statuses.get(request.match_info["sha"], [])
        state = ("failure" if any(s["state"] in ("failure", "error") for s in items)
                 else "pending" if any(s["state"] == "pending" for s in items) or not items else "success")
        return web.json_response({"state": state, "statuses": items, "total_count": len(items)})

    async def _merge(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        pull = self._find(request)
        if pull is None:
            return self._error(404, "Not Found")
        data = await request.json()
        method = data.get("merge_method", "merge")
        self.merges.append({"number": pull.number, **data})
        info = self._pull_json(pull)
        if pull.state != "open":
            return self._error(405, "Pull Request is not mergeable")
        if data.get("sha") and data["sha"] != info["head"]["sha"]:
            return self._error(409, "Head branch was modified. Review and try the merge again.")
        if info["mergeable"] is not True:
            return self._error(405, "Pull Request is not mergeable")
        sha = await asyncio.to_thread(self._perform_merge, pull, method, info["base"]["sha"], info["head"]["sha"])
        pull.state, pull.merged, pull.merge_commit_sha = "closed", True, sha
        return web.json_response({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    def _perform_merge(self, pull: FakePull, method: str, base: str, head: str) -> str:
        bare = self.bare(pull.owner, pull.repo)
        if method == "rebase":  # replay each commit on the base in a scratch worktree, like GitHub
            scratch = Path(tempfile.mkdtemp(prefix="rebase-", dir=self.root))
            self.git(bare, "worktree", "add", "-q", "--detach", str(scratch / "wt"), base)
            try:
                for commit in self.git(bare, "rev-list", "--reverse", f"{base}..{head}").split():
                    self.git(None, "-C", str(scratch / "wt"), "cherry-pick", "--allow-empty", commit)
                new = self.git(None, "-C", str(scratch / "wt"), "rev-parse", "HEAD")
            finally:
                self.git(bare, "worktree", "remove", "--force", str(scratch / "wt"), check=False)
        else:
            tree = self.git(bare, "merge-tree", "--write-tree", base, head).split()[0]
            if method == "squash":
                new = self.git(bare, "commit-tree", tree, "-p", base, "-m", f"{pull.title} (#{pull.number})")
            else:
                new = self.git(bare, "commit-tree", tree, "-p", base, "-p", head, "-m",
                               f"Merge pull request #{pull.number} from {pull.owner}/{pull.head}")
        self.git(bare, "update-ref", f"refs/heads/{pull.base}", new, base)
        return new

    async def _delete_ref(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Bad credentials")
        bare = self.bare(request.match_info["owner"], request.match_info["repo"])
        branch = request.match_info["branch"]
        if not self.git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False):
            return web.json_response({"message": "Reference does not exist"}, status=422)
        self.git(bare, "update-ref", "-d", f"refs/heads/{branch}")
        self.deleted_refs.append(branch)
        return web.Response(status=204)
