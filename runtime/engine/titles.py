"""A title and a one-line description for each new session, from its prompt, by one small model call.

The call goes to the model provider the session's agent uses, with the user's own credential, put on the
request by the proxy's rule table (`proxy.injection_for`, the one place that knows how a credential goes on
a request) and sent where the proxy would send it (`[routes]`, which is also how tests reach fake upstreams).
The engine is trusted and holds the credentials anyway; the request never passes through a container. It
runs in the background after create (the session starts at once under its suggested name), only with
`[titles] enabled`, and a failure costs one log line: the session simply has no title. A title is a display
field: the session's name and branch never change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy import CredentialStore, InjectionRule, injection_for
from runtime.agents.registry import agent_named
from runtime.engine.records import SessionRecords
from runtime.engine.tasks import BackgroundTasks
from runtime.models import Session
from runtime.settings import TitlesSettings
from runtime.textsafe import display_text

log = logging.getLogger(__name__)

MAX_TITLE = 80
MAX_DESCRIPTION = 200
MAX_PROMPT = 4000
"""Characters of the prompt sent: enough to name the task."""
ASK = ("Give a short title (at most 8 words) and a one-sentence description of this coding task. Answer with "
       'only a JSON object: {"title": "...", "description": "..."}. The task:\n\n')


@dataclass(frozen=True)
class Provider:
    """How to ask one model API for a short answer, and where the answer is in its reply."""

    host: str
    path: str
    model_setting: str
    body: Callable[[str, str], dict[str, Any]]
    answer: Callable[[dict[str, Any]], str]
    credentials: frozenset[str]
    """The credentials this API takes (a ChatGPT sign-in is not an OpenAI API key)."""
    headers: Mapping[str, str]
    oauth_headers: Mapping[str, str] = field(default_factory=dict)
    """Added when the credential is an OAuth token."""
    oauth_body: Mapping[str, Any] = field(default_factory=dict)
    """Added to the body when the credential is an OAuth token (Claude's sign-in serves Claude Code's calls)."""


def _anthropic_text(reply: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in reply.get("content") or [] if b.get("type") == "text")


def _openai_text(reply: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for item in reply.get("output") or [] if item.get("type") == "message"
                   for part in item.get("content") or [] if part.get("type") == "output_text")


def _gemini_text(reply: dict[str, Any]) -> str:
    candidates = reply.get("candidates") or [{}]
    return "".join(p.get("text", "") for p in (candidates[0].get("content") or {}).get("parts") or [])


PROVIDERS: tuple[Provider, ...] = (
    Provider("api.anthropic.com", "/v1/messages", "anthropic_model",
             lambda model, text: {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": text}]},
             _anthropic_text, frozenset({"anthropic_oauth_token", "anthropic_api_key"}),
             {"anthropic-version": "2023-06-01"}, {"anthropic-beta": "oauth-2025-04-20"},
             {"system": "You are Claude Code, Anthropic's official CLI for Claude."}),
    Provider("api.openai.com", "/v1/responses", "openai_model",
             lambda model, text: {"model": model, "input": text, "max_output_tokens": 200, "store": False},
             _openai_text, frozenset({"openai_api_key"}), {}),
    Provider("generativelanguage.googleapis.com", "/v1beta/models/{model}:generateContent", "gemini_model",
             lambda model, text: {"contents": [{"role": "user", "parts": [{"text": text}]}]},
             _gemini_text, frozenset({"gemini_api_key"}), {}),
)


def parse_title(text: str) -> tuple[str, str] | None:
    """(title, description) from a model's answer: the JSON object in it, each field made one plain line and
    bounded; None when there is no usable title."""
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start:end + 1]) if 0 <= start < end else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("title"), str):
        return None
    title = display_text(data["title"], single_line=True, limit=MAX_TITLE).strip()
    description = display_text(data.get("description") or "", single_line=True, limit=MAX_DESCRIPTION).strip()
    return (title, description) if title else None


class TitleMaker:
    """Generates titles in the background (one per engine)."""

    def __init__(self, settings: TitlesSettings, routes: Mapping[str, str], credentials: CredentialStore,
                 rules: tuple[InjectionRule, ...], records: SessionRecords, tasks: BackgroundTasks,
                 upstream_ca_bundle: str | None = None) -> None:
        self.settings = settings
        self.ssl = ssl.create_default_context()
        if upstream_ca_bundle:  # a company gateway's CA, as the proxy trusts it
            self.ssl.load_verify_locations(upstream_ca_bundle)
        self.routes = {host.lower(): url.rstrip("/") for host, url in routes.items()}
        self.credentials = credentials
        self.rules = rules
        self.records = records
        self.tasks = tasks

    def schedule(self, session: Session, settled: Callable[[], Awaitable[Any]] | None = None
                 ) -> asyncio.Task[None] | None:
        """Title a just-created session in the background, when titles are on and it has a prompt. The model is
        asked at once; the answer is stored once `settled()` returns (the create's own last write would
        otherwise put back the record it holds, without the title), and never over a title someone set."""
        if self.settings.enabled and session.initial_prompt.strip() and not session.title:
            return self.tasks.spawn(self._title(session, settled))
        return None

    async def _title(self, session: Session, settled: Callable[[], Awaitable[Any]] | None) -> None:
        try:
            made = await self.make(session)
        except Exception as exc:  # a title is never worth more than this line
            log.warning("no title for %s: %s", session.name, exc.__class__.__name__)
            return
        if made is None:
            return
        if settled is not None:
            await settled()
        current = self.records.store.find(session.id)
        if current is not None and not current.title and not current.description:
            await self.records.update(session.id, title=made[0], description=made[1])

    async def make(self, session: Session) -> tuple[str, str] | None:
        """Ask the model; None (with one log line) when the agent's provider has no usable credential here or
        the answer holds no title."""
        traffic = agent_named(session.agent).traffic
        allowed = {c.name for c in traffic.model_credentials}
        for provider in PROVIDERS:
            if provider.host not in traffic.model_hosts:
                continue
            injection = injection_for(self.rules, self.credentials, provider.host, allowed & provider.credentials)
            if injection is None:
                continue
            model = str(getattr(self.settings, provider.model_setting))
            base = self.routes.get(provider.host, f"https://{provider.host}")
            url = base + provider.path.format(model=model)
            body = provider.body(model, ASK + session.initial_prompt[:MAX_PROMPT])
            import aiohttp  # here: the app imports this module for its limits, and its first frame should not wait

            timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
            headers = {**provider.headers, **injection.headers}
            if "oauth" in injection.credential:
                headers.update(provider.oauth_headers)
                body.update(provider.oauth_body)
            async with aiohttp.ClientSession(timeout=timeout) as http, http.post(
                    url, json=body, headers=headers, ssl=self.ssl) as response:
                if response.status >= 400:
                    log.warning("no title for %s: %s answered HTTP %s", session.name, provider.host, response.status)
                    return None
                made = parse_title(provider.answer(await response.json(content_type=None)))
            if made is None:
                log.warning("no title for %s: the answer held no title", session.name)
            return made
        log.info("no title for %s: no credential for its agent's model API here", session.name)
        return None


__all__ = ["TitleMaker", "parse_title"]
