"""The `clauderon` command line: an exact contract that scripts and tests rely on.

Errors are one clear line on stderr and exit code 1; `--json` output follows docs/api.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from clauderon_tui import cli_format as fmt
from clauderon_tui.hosted_engine import finish_host
from clauderon_tui.print_mode import print_report, wait_for_run
from runtime.agents.registry import agent_named, agent_names, all_agents
from runtime.api.client import EngineClient
from runtime.backends.registry import backend_names
from runtime.engine.host import (
    EngineHost,
    engine_running,
    setup_logging,
    spawn_background_engine,
    try_lock,
    wait_for_socket,
)
from runtime.errors import ClauderonError, EngineUnavailable
from runtime.home import Home
from runtime.requests import parse_env_entries, parse_mount_entries
from runtime.settings import LoadedSettings, load_settings, save_setting


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clauderon", description="Run many AI coding agents side by side, each in its own "
                                "container on its own git worktree.")
    sub = p.add_subparsers(dest="command")
    t = sub.add_parser("tui", help="the full-screen app (the default)")
    # Browser tabs run the app with this: join the running engine, never host it.
    t.add_argument("--client-only", action="store_true", help=argparse.SUPPRESS)

    sv = sub.add_parser("serve", help="the app in a browser, behind a login token or password (docs/serve.md)")
    sv.add_argument("--host", help="address to bind (default 127.0.0.1; anything else needs --public-url)")
    sv.add_argument("--port", type=int, help="port to bind (default 3030)")
    sv.add_argument("--public-url", help="the URL browsers open (default http://localhost:<port>)")
    sv.add_argument("--tls-cert", help="PEM certificate: serve https directly")
    sv.add_argument("--new-token", action="store_true",
                    help="print a fresh one-time login URL for the server already running on --port")
    sv.add_argument("--tls-key", help="PEM private key of --tls-cert")

    c = sub.add_parser("create", help="create a session; returns once it runs (or failed)")
    c.add_argument("--repo", required=True, help="repository path (a path inside a repo means that subdirectory)")
    c.add_argument("--name")
    c.add_argument("--agent", choices=agent_names())
    c.add_argument("--backend", choices=backend_names())
    c.add_argument("--image")
    c.add_argument("--network", choices=["auto", "sealed", "bridge", "host"],
                   help="sealed: no network but the proxy (loopback only); bridge/host: open networks")
    c.add_argument("--base-branch")
    c.add_argument("--prompt", default="")
    c.add_argument("--access-mode", choices=["read-write", "read-only"])
    c.add_argument("--skip-permissions", action="store_true", default=None)
    c.add_argument("--model", help="the model the agent's CLI starts with (default: [agents.<agent>] model)")
    c.add_argument("--plan", action="store_true", help="start Claude Code in plan mode (read-only planning)")
    c.add_argument("--cpu", type=float)
    c.add_argument("--memory")
    c.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--mount", action="append", default=[], metavar="HOST:PATH[:ro]")
    c.add_argument("--reuse-branch", action="store_true", help="use an existing clauderon/<name> branch")
    c.add_argument("--image-file", action="append", default=[], metavar="PATH",
                   help="an image sent with --prompt (repeat for more; PNG, JPEG, GIF or WebP)")
    c.add_argument("--print", action="store_true", help="run --prompt headless to its end, print the final message "
                   "(with --json: name, exit_status, result, transcript); fails when the agent did")
    c.add_argument("--no-credential-check", action="store_true",
                   help="create even when the host has no credential for the agent's model")
    c.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", help="list sessions")
    ls.add_argument("--all", action="store_true", help="include archived sessions")
    ls.add_argument("--json", action="store_true")

    for name, help_text in (("screen", "the session's current screen as plain text"),
                            ("restart", "a fresh sandbox on the same worktree and agent home"),
                            ("resume", "thaw a session paused because the disk ran short"),
                            ("archive", "remove the sandbox, keep worktree and agent home"),
                            ("unarchive", "bring an archived session back"),
                            ("cycle-mode", "shift+tab to the agent: its next permission mode (Claude Code)")):
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("name")
    rf = sub.add_parser("refresh", help="pull the newest image for the session and recreate its sandbox on it "
                        "(the agent resumes)")
    rf.add_argument("name")
    rf.add_argument("--json", action="store_true")
    rn = sub.add_parser("rename", help="set a session's display title and description (name and branch stay)")
    rn.add_argument("name")
    rn.add_argument("--title", help="the title shown in the list (\"\" clears it)")
    rn.add_argument("--description", help="the one-line description shown in Info (\"\" clears it)")
    rc = sub.add_parser("reconcile", help="check every session against what its backend runs, now, and print "
                        "what changed")
    rc.add_argument("--json", action="store_true")
    d = sub.add_parser("delete", help="remove sandbox and worktree (the branch is kept when it has commits)")
    d.add_argument("name")
    d.add_argument("--force", action="store_true", help="also discard uncommitted changes")

    s = sub.add_parser("send", help="type TEXT into the session, then Enter with --enter")
    s.add_argument("name")
    s.add_argument("--enter", action="store_true")
    s.add_argument("text")

    am = sub.add_parser("set-access-mode", help="switch a session read-write / read-only, live")
    am.add_argument("name")
    am.add_argument("mode", choices=["read-write", "read-only"])

    pl = sub.add_parser("pull", help="bring a sandboxed session's commits back to its branch in your repository now "
                        "(it also happens by itself)")
    pl.add_argument("name")
    pu = sub.add_parser("push", help="push the session branch (host side, with the real github_token)")
    pu.add_argument("name")
    pr = sub.add_parser("pr", help="push and open a pull request against the base branch")
    pr.add_argument("name")
    pr.add_argument("--draft", action="store_true")
    mg = sub.add_parser("merge", help="merge the session's pull request")
    mg.add_argument("name")
    how = mg.add_mutually_exclusive_group()
    for method in ("merge", "squash", "rebase"):
        how.add_argument(f"--{method}", dest="method", action="store_const", const=method)
    mg.add_argument("--delete-branch", action="store_true")
    mg.set_defaults(method="merge")

    cr = sub.add_parser("credentials", help="which credentials the proxy can inject (masked)")
    cr.add_argument("--json", action="store_true")

    au = sub.add_parser("audit", help="what went through the proxy")
    au.add_argument("name", nargs="?")
    au.add_argument("--limit", type=int, default=100)
    au.add_argument("--json", action="store_true")

    a = sub.add_parser("attach", help="full-screen attach in this terminal; prefix key then d detaches")
    a.add_argument("name")

    e = sub.add_parser("engine", help="run the engine headless, or manage it")
    e.add_argument("action", nargs="?", choices=["status", "stop"])
    e.add_argument("--background", action="store_true", help="start detached and return")
    e.add_argument("--json", action="store_true")
    e.add_argument("--wait-lock", action="store_true", help=argparse.SUPPRESS)

    cfg = sub.add_parser("config", help="settings; where each file lives; the environment variables in use")
    cfg.add_argument("action", choices=["show", "paths", "env"])
    cfg.add_argument("--json", action="store_true")

    doc = sub.add_parser("doctor", help="check this machine, each check with the fix to apply")
    doc.add_argument("--json", action="store_true")

    img = sub.add_parser("image", help="agent images")
    img.add_argument("action", choices=["build"], help="build: the agent image, its CLIs fetched on this host")
    img.add_argument("--base", help="base image with bash, git, curl and ca-certificates, e.g. "
                     "buildpack-deps:bookworm-scm (pulled if missing) or a debootstrapped one; debian:bookworm-slim "
                     "lacks git and curl (default: [docker] build_base)")
    img.add_argument("--tag", help="name of the built image (default: [docker] image, what new sessions use)")
    img.add_argument("--agent", action="append", dest="agents", metavar="NAME",
                     help="an agent whose CLI goes in (repeat for more; default: [docker] build_agents, else all)")
    return p


# ---------------------------------------------------------------------- engine access
def ensure_engine(home: Home) -> None:
    """A CLI command that finds no engine starts one in the background, detached."""
    if engine_running(home):
        wait_for_socket(home)  # it may still be booting (or its socket file is a dead one's)
        return
    wait_for_socket(home, proc=spawn_background_engine(home))


def with_client(home: Home, fn: Callable[[EngineClient], Awaitable[Any]], *, start: bool = True) -> Any:
    async def go() -> Any:
        client = EngineClient(home)
        try:
            return await fn(client)
        finally:
            await client.close()

    if start:
        ensure_engine(home)
    return asyncio.run(go())


# ---------------------------------------------------------------------- commands
def cmd_create(home: Home, args: argparse.Namespace) -> int:
    request: dict[str, Any] = {
        "repo": os.path.abspath(args.repo), "name": args.name, "agent": args.agent, "backend": args.backend,
        "image": args.image, "network": args.network, "base_branch": args.base_branch, "prompt": args.prompt,
        "access_mode": args.access_mode, "skip_permissions": args.skip_permissions, "cpu": args.cpu,
        "memory": args.memory, "env": parse_env_entries(args.env), "mounts": parse_mount_entries(args.mount),
        "reuse_branch": args.reuse_branch, "model": args.model, "plan_mode": args.plan,
        "print": args.print or None, "skip_credential_check": args.no_credential_check or None,
        "images": [os.path.abspath(os.path.expanduser(p)) for p in args.image_file],
    }
    request = {k: v for k, v in request.items() if v is not None}
    if args.print:
        if not args.prompt.strip():
            raise ClauderonError("--print runs a prompt: give it with --prompt")

        async def create_and_wait(c: EngineClient) -> Any:
            return await wait_for_run(c, await c.create_session(request, wait=True))

        return print_report(with_client(home, create_and_wait), as_json=args.json)
    session = with_client(home, lambda c: c.create_session(request, wait=True))
    if args.prompt and not agent_named(session.agent).takes_prompt:
        takers = " or ".join(a.name for a in all_agents() if a.takes_prompt)
        print(f"note: the {session.agent} agent ignores --prompt (nothing was typed into {session.name}'s shell); "
              f"--agent {takers} takes it", file=sys.stderr)
    if args.json:
        print(json.dumps(session.public(), indent=2))
    if session.status == "failed":
        raise ClauderonError(f"create of {session.name} failed: {session.error}")
    if not args.json:
        print(f"{session.name} is {session.status} ({session.backend}, branch {session.branch})")
    return 0


def cmd_list(home: Home, args: argparse.Namespace) -> int:
    sessions = with_client(home, lambda c: c.list_sessions(include_archived=args.all))
    if args.json:
        print(json.dumps([s.public() for s in sessions], indent=2))
    else:
        print(fmt.session_table(sessions, time.time()))
    return 0


def cmd_simple(home: Home, args: argparse.Namespace) -> int:
    name = args.name
    if args.command == "screen":
        print(with_client(home, lambda c: c.screen(name)))
    elif args.command == "send":
        with_client(home, lambda c: c.send(name, args.text, enter=args.enter))
    elif args.command == "cycle-mode":
        session = with_client(home, lambda c: c.cycle_permission_mode(name))
        print(f"{session.name}: {session.permission_mode or 'no mode shown yet'}")
    elif args.command == "delete":
        result = with_client(home, lambda c: c.delete_session(name, force=args.force))
        print(f"deleted {name}" + (f"; {result['reason']}" if result.get("reason") else ""))
    else:
        method = {"restart": "restart_session", "resume": "resume_session", "archive": "archive_session",
                  "unarchive": "unarchive_session"}[args.command]
        session = with_client(home, lambda c: getattr(c, method)(name))
        print(f"{session.name} is {session.status}")
    return 0


def cmd_upkeep(home: Home, args: argparse.Namespace) -> int:
    """`refresh NAME` and `reconcile` (what the engine does by itself at start, asked for now), `rename NAME`."""
    if args.command == "rename":
        session = with_client(home, lambda c: c.rename_session(args.name, args.title, args.description))
        print(f"{session.name}: {session.title or '(no title)'}" + (f" — {session.description}"
                                                                    if session.description else ""))
    elif args.command == "refresh":
        result = with_client(home, lambda c: c.refresh_session(args.name))
        print(json.dumps(result, indent=2) if args.json else fmt.refresh_line(result))
    else:
        actions = with_client(home, lambda c: c.reconcile())
        print(json.dumps(actions, indent=2) if args.json else fmt.reconcile_lines(actions))
    return 0


def cmd_proxy(home: Home, args: argparse.Namespace) -> int:
    if args.command == "set-access-mode":
        session = with_client(home, lambda c: c.set_access_mode(args.name, args.mode))
        print(f"{session.name} is {session.access_mode}")
    elif args.command == "credentials":
        rows = with_client(home, lambda c: c.credentials())
        print(json.dumps(rows, indent=2) if args.json else fmt.credentials_table(rows))
    else:
        records = with_client(home, lambda c: c.audit(args.name, args.limit))
        print(json.dumps(records, indent=2) if args.json else fmt.audit_lines(records))
    return 0


def cmd_landing(home: Home, args: argparse.Namespace) -> int:
    if args.command == "pull":
        result = with_client(home, lambda c: c.pull(args.name))
        print(f"{result['branch']} is now {result['sha'][:12]}")
    elif args.command == "push":
        result = with_client(home, lambda c: c.push(args.name))
        print(f"pushed {result['branch']} ({result['sha'][:12]}) to {result['url']}")
    elif args.command == "pr":
        result = with_client(home, lambda c: c.open_pr(args.name, draft=args.draft))
        print(f"{'opened' if result['created'] else 'already open'}: #{result['number']} {result['html_url']}")
    else:
        result = with_client(home, lambda c: c.merge(args.name, method=args.method, delete_branch=args.delete_branch))
        print(f"merged #{result['number']} ({result['method']}) as {result['sha'][:12]}"
              + ("; branch deleted" if result["branch_deleted"] else ""))
    return 0


def cmd_engine(home: Home, loaded: LoadedSettings, args: argparse.Namespace) -> int:
    if args.action == "status":
        running = engine_running(home)
        info: dict[str, Any] = {"running": running, "home": str(home.root), "socket": str(home.socket_path)}
        if running:
            try:
                info.update(with_client(home, lambda c: c.health(), start=False))
            except EngineUnavailable as exc:
                info["error"] = str(exc)
        print(json.dumps(info, indent=2) if args.json else fmt.engine_status(info))
        return 0
    if args.action == "stop":
        if not engine_running(home):
            print("no engine is running")
            return 0
        with_client(home, lambda c: c.stop_engine(), start=False)
        deadline = time.monotonic() + 30
        while engine_running(home) and time.monotonic() < deadline:
            time.sleep(0.1)
        print("engine stopped")
        return 0
    if args.background:
        if engine_running(home):
            print("an engine is already running")
            return 0
        wait_for_socket(home, proc=spawn_background_engine(home))
        print(f"engine started in the background ({home.socket_path})")
        return 0
    return run_headless_engine(home, loaded, wait_lock=args.wait_lock)


def run_headless_engine(home: Home, loaded: LoadedSettings, *, wait_lock: bool) -> int:
    setup_logging(home)
    fd = try_lock(home, wait=wait_lock)
    if fd is None:
        raise ClauderonError(f"an engine is already running for {home.root}; `clauderon engine status` shows it")
    host = EngineHost(home, loaded, fd, standalone=True)
    host.start()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: host.request_stop())
    while not host.stopped.wait(0.5):
        pass
    return 0


def cmd_tui(home: Home, loaded: LoadedSettings, *, client_only: bool = False) -> int:
    from clauderon_tui.app import run_app

    setup_logging(home, "app")
    host: EngineHost | None = None
    fd = None if client_only else try_lock(home)
    if fd is not None:
        host = EngineHost(home, loaded, fd)
        host.launch()  # boots while the app draws its first frame; the app waits for it to connect
    elif not home.socket_path.exists():
        wait_for_socket(home)

    def leave(*_: Any) -> None:
        # A dropped ssh connection or a kill: running agents keep their engine in the background.
        if host is not None:
            finish_host(host, loaded)
        os._exit(0)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, leave)
    running = 0
    try:
        running = asyncio.run(run_app(EngineClient(home), loaded.settings, themes_dir=home.themes,
                                      persist_theme=lambda name: save_setting(home, "tui", "theme", name),
                                      engine_ready=host.wait_ready if host is not None else None))
    finally:
        line = finish_host(host, loaded) if host is not None else None
    print(line or fmt.quit_line(running, engine_pid(home)))
    return 0


def engine_pid(home: Home) -> int | None:
    try:
        return int(json.loads(home.engine_info.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_config(home: Home, loaded: LoadedSettings, args: argparse.Namespace) -> int:
    if args.action in ("paths", "env"):
        from runtime.config_report import environment_report, home_paths

        report = home_paths(home) if args.action == "paths" else environment_report()
        table = fmt.paths_table if args.action == "paths" else fmt.environment_table
        print(json.dumps(report, indent=2) if args.json else table(report))
        return 0
    rows = [(key, fmt.hide_secret(key, value), source) for key, value, source in loaded.rows()]
    if args.json:
        print(json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows], indent=2, default=str))
    else:
        print(fmt.config_table(rows))
    return 0


def cmd_doctor(home: Home, loaded: LoadedSettings, args: argparse.Namespace) -> int:
    from runtime.doctor import run_checks

    checks = asyncio.run(run_checks(home, loaded))
    if args.json:
        print(json.dumps(checks, indent=2))
    else:
        print(fmt.doctor_report(checks))
    return 0


def cmd_image(loaded: LoadedSettings, args: argparse.Namespace) -> int:
    from runtime.images import build_agent_image

    docker = loaded.settings.docker
    tag = args.tag or docker.image
    agents = tuple(args.agents or docker.build_agents) or None
    build_agent_image(base=args.base or docker.build_base, tag=tag, agents=agents, base_url=docker.base_url,
                      progress=lambda m: print(m, file=sys.stderr))
    print(f"built {tag}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "tui"
    try:
        home = Home.open()
        loaded = load_settings(home)
        if not getattr(args, "client_only", False):  # a browser tab's app: its stderr is not a person's
            for warning in loaded.warnings:
                print(f"clauderon: {warning}", file=sys.stderr)
        if command == "tui":
            return cmd_tui(home, loaded, client_only=getattr(args, "client_only", False))
        if command == "serve":
            from clauderon_tui.serve.command import run_serve

            return run_serve(home, loaded, args)
        if command == "create":
            return cmd_create(home, args)
        if command == "list":
            return cmd_list(home, args)
        if command in ("screen", "send", "restart", "resume", "delete", "archive", "unarchive", "cycle-mode"):
            return cmd_simple(home, args)
        if command in ("refresh", "reconcile", "rename"):
            return cmd_upkeep(home, args)
        if command in ("pull", "push", "pr", "merge"):
            return cmd_landing(home, args)
        if command in ("set-access-mode", "credentials", "audit"):
            return cmd_proxy(home, args)
        if command == "attach":
            from clauderon_tui.attach import attach

            ensure_engine(home)
            return attach(home, args.name, loaded.settings.tui.prefix_key,
                          allow_clipboard=loaded.settings.tui.allow_clipboard)
        if command == "engine":
            return cmd_engine(home, loaded, args)
        if command == "config":
            return cmd_config(home, loaded, args)
        if command == "doctor":
            return cmd_doctor(home, loaded, args)
        if command == "image":
            return cmd_image(loaded, args)
    except ClauderonError as exc:
        print(f"clauderon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
