"""A small async client for the parts of the GitHub REST API that landing a session needs.

It runs on the host with the REAL `github_token` (never inside a container). The token goes into the
`Authorization: Bearer` header of each request and nowhere else: it is not logged, not put in error
messages, and not kept on any object that is printed (`repr` hides it).

Also here: turning a git remote URL into the GitHub repository it names, for github.com and for
GitHub Enterprise hosts (`[github] git_host`).
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from runtime.errors import ClauderonError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0
_SCP_FORM = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class GitHubError(ClauderonError):
    """GitHub answered with an error, or could not be reached."""


@dataclass(frozen=True)
class RepoRef:
    """One GitHub repository and the https URL git pushes it through (no credential in it)."""

    owner: str
    name: str
    push_url: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_remote_url(url: str, git_host: str) -> RepoRef:
    """The repository a remote URL names, if it lives on `git_host`.

    Accepts `https://host/o/r(.git)`, `ssh://git@host/o/r.git` and the scp form `git@host:o/r.git`.
    The push URL is always http(s) on `git_host`, because the token travels in an HTTP header;
    plain `http` is allowed only for loopback hosts (test servers), never across a network.
    """
    want = git_host.lower()
    want_hostname = want.rsplit(":", 1)[0] if not want.startswith("[") else want.split("]")[0] + "]"
    scheme, host, path = "https", "", ""
    scp = _SCP_FORM.match(url) if "://" not in url else None
    if scp:
        host, path = scp.group("host").lower(), scp.group("path")
        host_ok = host == want_hostname
    else:
        parts = urlsplit(url)
        netloc = (parts.netloc.rsplit("@", 1)[-1]).lower()  # userinfo never survives into the push URL
        path = parts.path
        if parts.scheme in ("http", "https"):
            scheme, host = parts.scheme, netloc
            host_ok = netloc == want
        elif parts.scheme in ("ssh", "git+ssh"):
            host = (parts.hostname or "").lower()
            host_ok = host == want_hostname
        else:
            raise GitHubError(f"remote URL {_redact(url)} is not an https or ssh URL; "
                              f"set the remote to https://{git_host}/<owner>/<repo>.git")
    if not host_ok:
        raise GitHubError(f"remote URL {_redact(url)} is not on {git_host}; set [github] git_host "
                          "(GitHub Enterprise) or point the remote at the GitHub repository")
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) != 2:
        raise GitHubError(f"remote URL {_redact(url)} does not name <owner>/<repo>; fix the remote's URL")
    owner, name = segments[0], segments[1].removesuffix(".git")
    if scheme == "http" and urlsplit(f"http://{host}").hostname not in _LOOPBACK_HOSTS:
        raise GitHubError(f"remote URL {_redact(url)} is plain http; the token would cross the network "
                          "unencrypted, so use https")
    # http(s) remotes matched `git_host` exactly; ssh ones become https on the same host.
    return RepoRef(owner, name, f"{scheme}://{git_host}/{owner}/{name}.git")


def _redact(url: str) -> str:
    """A URL fit for an error line: any `user:password@` part is dropped."""
    if "://" in url:
        parts = urlsplit(url)
        if "@" in parts.netloc:
            return url.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[-1], 1)
    return url


@dataclass
class GitHubClient:
    """REST calls against `api_url` with `Authorization: Bearer <token>`.

    Use as `async with GitHubClient(api_url, token) as gh:`; each method returns GitHub's decoded JSON.
    """

    api_url: str
    token: str = field(repr=False)
    timeout: float = REQUEST_TIMEOUT
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "clauderon"},
            )
        return self._session

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, str] | None = None, allow_404: bool = False) -> Any:
        """One API call; raises `GitHubError` with GitHub's own message on a non-2xx answer."""
        url = self.api_url.rstrip("/") + path
        log.debug("GitHub %s %s", method, path)  # path only: the token lives in a header we never log
        try:
            async with self._http().request(method, url, json=json, params=params) as resp:
                text = await resp.text()
                data = _decode(text)
                if resp.status == 404 and allow_404:
                    return None
                if resp.status >= 400:
                    raise _api_error(method, path, resp.status, data)
                return data
        except aiohttp.ClientError as exc:
            raise GitHubError(f"cannot reach GitHub at {self.api_url} ({exc.__class__.__name__}); "
                              "check [github] api_url and the network", status=502) from exc
        except TimeoutError as exc:
            raise GitHubError(f"GitHub at {self.api_url} did not answer {method} {path} within "
                              f"{self.timeout:.0f}s; try again", status=504) from exc

    # ---- pull requests ---------------------------------------------------------------------------

    async def create_pull(self, repo: RepoRef, *, title: str, body: str, head: str, base: str,
                          draft: bool = False) -> dict[str, Any]:
        pull: dict[str, Any] = await self.request(
            "POST", f"/repos/{repo.slug}/pulls",
            json={"title": title, "body": body, "head": head, "base": base, "draft": draft})
        return pull

    async def find_open_pull(self, repo: RepoRef, head: str, base: str | None = None) -> dict[str, Any] | None:
        """The open PR whose head is `head` (a branch of `repo` itself), or None."""
        params = {"head": f"{repo.owner}:{head}", "state": "open"}
        if base:
            params["base"] = base
        pulls = await self.request("GET", f"/repos/{repo.slug}/pulls", params=params)
        return pulls[0] if pulls else None

    async def pulls_from(self, repo: RepoRef, head: str) -> list[dict[str, Any]]:
        """Every PR (open, closed, merged) whose head is `head`, a branch of `repo` itself, newest first."""
        pulls: list[dict[str, Any]] = await self.request("GET", f"/repos/{repo.slug}/pulls", params={
            "head": f"{repo.owner}:{head}", "state": "all", "sort": "created", "direction": "desc"})
        return pulls

    async def get_pull(self, repo: RepoRef, number: int) -> dict[str, Any]:
        pull: dict[str, Any] = await self.request("GET", f"/repos/{repo.slug}/pulls/{number}")
        return pull

    async def reviews(self, repo: RepoRef, number: int) -> list[dict[str, Any]]:
        reviews: list[dict[str, Any]] = await self.request("GET", f"/repos/{repo.slug}/pulls/{number}/reviews",
                                                           params={"per_page": "100"})
        return reviews

    async def check_runs(self, repo: RepoRef, sha: str) -> list[dict[str, Any]]:
        data = await self.request("GET", f"/repos/{repo.slug}/commits/{sha}/check-runs", params={"per_page": "100"})
        return list((data or {}).get("check_runs", []))

    async def combined_status(self, repo: RepoRef, sha: str) -> dict[str, Any]:
        status: dict[str, Any] = await self.request("GET", f"/repos/{repo.slug}/commits/{sha}/status") or {}
        return status

    async def merge_pull(self, repo: RepoRef, number: int, *, method: str, sha: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"merge_method": method}
        if sha:
            payload["sha"] = sha  # GitHub refuses (409) when the PR head moved past what we checked
        merged: dict[str, Any] = await self.request("PUT", f"/repos/{repo.slug}/pulls/{number}/merge", json=payload)
        return merged

    async def delete_branch(self, repo: RepoRef, branch: str) -> None:
        # Slashes stay (the ref path is `heads/clauderon/<name>`); anything else odd is escaped.
        await self.request("DELETE", f"/repos/{repo.slug}/git/refs/heads/{quote(branch, safe='/')}")


def _decode(text: str) -> Any:
    try:
        return jsonlib.loads(text) if text else None
    except ValueError:
        return {"message": text[:200]}


def _api_error(method: str, path: str, status: int, data: Any) -> GitHubError:
    message = data.get("message", "") if isinstance(data, dict) else ""
    details = [e.get("message") or e.get("code", "") for e in (data.get("errors") or [])
               if isinstance(e, dict)] if isinstance(data, dict) else []
    said = "; ".join(x for x in [message, *details] if x) or f"HTTP {status}"
    hint = {
        401: "check github_token with `clauderon credentials`",
        403: "the token lacks permission for this repository (needs contents and pull requests write)",
        404: "check the repository, the PR number, and that the token can see the repository",
        405: "the pull request cannot be merged now (conflicts, failing checks or missing reviews)",
        409: "the branch moved on GitHub; push the session branch again and retry",
        422: "GitHub rejected the request; see its message",
    }.get(status, "try again later")
    mapped = {401: 401, 403: 403, 404: 404, 405: 409, 409: 409, 422: 422}.get(status, 502)
    return GitHubError(f"GitHub {method} {path} failed ({status}: {said}); {hint}", status=mapped)
