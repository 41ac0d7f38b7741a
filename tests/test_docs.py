"""The docs that state a contract are checked against the code: README's CLI block against the argument
parser, docs/api.md's routes against the routes the engine API registers."""

from __future__ import annotations

import argparse
import importlib
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from clauderon_tui.cli import build_parser
from runtime.api.server import ApiServer
from runtime.engine.core import Engine
from runtime.home import Home
from runtime.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"[a-z][a-z-]*")
OPTION = re.compile(r"--[a-z][a-z-]*")


# ------------------------------------------------------------------------------------------------ CLI
def readme_cli_block() -> list[str]:
    """The lines of README's fenced block under "The CLI"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The CLI", 1)[1]
    return section.split("```", 2)[1].strip("\n").splitlines()


def readme_commands() -> dict[tuple[str, ...], set[str]]:
    """Each command path the block names (`("engine", "status")`) with the options written after it.

    A line starts with `clauderon`; ` · ` separates more commands on one line (written without the
    `clauderon`); an indented line continues the previous command; two spaces start a description.
    """
    commands: dict[tuple[str, ...], set[str]] = defaultdict(set)
    path: tuple[str, ...] = ()
    for line in readme_cli_block():
        continuation = line[:1].isspace()
        usage = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] if not continuation else line.strip()
        if continuation:
            commands[path] |= set(OPTION.findall(usage))
            continue
        for number, segment in enumerate(usage.split(" · ")):
            words = segment.split()
            if number == 0:
                assert words[0] == "clauderon", line
                words = words[1:]
            found: list[str] = []
            for word in words:
                if re.fullmatch(r"\[[a-z-]+\]", word):  # `clauderon [tui]`: with or without the subcommand
                    commands[tuple(found)] |= set()
                    word = word[1:-1]
                if not WORD.fullmatch(word):
                    break
                found.append(word)
            path = tuple(found)
            commands[path] |= set(OPTION.findall(segment))
    return dict(commands)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public way to list its subcommands; the subparsers action is the one place they live.
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def parser_commands() -> dict[tuple[str, ...], set[str]]:
    """Each command path the parser accepts (`("engine",)`, `("engine", "status")`, `("config", "show")`)
    with the options it shows in `--help`, which go to the shortest path of their subcommand."""
    commands: dict[tuple[str, ...], set[str]] = {(): set()}
    for name, sub in subparsers(build_parser()).items():
        actions = sub._actions  # noqa: SLF001
        options = {flag for action in actions if action.help != argparse.SUPPRESS
                   for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
        verbs = [a for a in actions if not a.option_strings and a.dest == "action" and a.choices]
        paths: list[tuple[str, ...]] = [(name, str(choice)) for verb in verbs for choice in verb.choices or ()]
        if all(verb.nargs == "?" for verb in verbs):  # `engine` alone runs; `config` alone is refused
            paths.insert(0, (name,))
        for path in paths:
            commands[path] = set()
        commands[paths[0]] = options
    return commands


def by_subcommand(commands: dict[tuple[str, ...], set[str]]) -> dict[str, set[str]]:
    """Options merged per top-level subcommand (`engine [--background]` and `engine status [--json]`)."""
    merged: dict[str, set[str]] = defaultdict(set)
    for path, options in commands.items():
        merged[path[0] if path else ""] |= options
    return dict(merged)


def test_readme_cli_block_names_every_subcommand_and_no_other() -> None:
    documented, actual = set(readme_commands()), set(parser_commands())
    assert documented - actual == set(), "README names commands the parser does not have"
    assert actual - documented == set(), "the parser has commands README does not name"


def test_readme_cli_block_lists_each_subcommands_options() -> None:
    documented, actual = by_subcommand(readme_commands()), by_subcommand(parser_commands())
    drift = {name: (sorted(documented.get(name, set()) - options), sorted(options - documented.get(name, set())))
             for name, options in actual.items() if documented.get(name, set()) != options}
    assert drift == {}, "per subcommand: (in README only, in the parser only)"


def test_the_cli_block_reader_sees_what_is_written() -> None:
    """The reader itself: a continuation line's options go to `create`, ` · ` splits commands."""
    commands = readme_commands()
    assert "--reuse-branch" in commands[("create",)] and "--repo" in commands[("create",)]
    assert ("engine", "stop") in commands and ("unarchive",) in commands
    assert () in commands and ("tui",) in commands  # `clauderon [tui]`
    assert ("set-access-mode", "read-write") not in commands  # words after NAME are arguments


# ------------------------------------------------------------------------------------------------ API
def documented_routes() -> set[tuple[str, str]]:
    """Method and path of each row of docs/api.md's route table and each websocket heading."""
    text = (ROOT / "docs" / "api.md").read_text()
    table = text.split("## Routes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`?\[ ]+)", table, flags=re.MULTILINE)
    sockets = re.findall(r"^### `(GET) (/ws/[^`?\[ ]+)", text, flags=re.MULTILINE)
    return {(method, path) for method, path in [*rows, *sockets]}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    umask = os.umask(0o022)
    os.umask(umask)
    home = Home.open(tmp_path / "home")
    try:
        yield Engine(home, load_settings(home), backends={})
    finally:
        os.umask(umask)  # Home.open sets 077 for the engine's process; the tests after this one expect theirs


def test_api_route_table_matches_the_registered_routes(engine: Engine) -> None:
    registered = {(route.method, route.resource.canonical) for route in ApiServer(engine).app.router.routes()
                  if route.method != "HEAD" and route.resource is not None}  # aiohttp adds HEAD to each GET
    documented = documented_routes()
    assert documented - registered == set(), "docs/api.md lists routes the engine does not register"
    assert registered - documented == set(), "the engine registers routes docs/api.md does not list"


# ------------------------------------------------------------------------------------------------ names
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_path_the_docs_name_exists() -> None:
    paths = {match.rstrip(".,)") for doc in DOCS
             for match in re.findall(r"\b(?:runtime|proxy|clauderon_tui|tests|bench)/[\w/.-]+", doc.read_text())}
    assert {p for p in paths if not (ROOT / p).exists()} == set()


def test_every_dotted_name_the_docs_give_resolves() -> None:
    """`runtime.engine.core.default_backends` and the like: the module imports and holds the name
    (`proxy.<key>` in the docs are settings keys, not modules)."""
    names = {match for doc in DOCS for match in re.findall(r"`((?:runtime|clauderon_tui)(?:\.\w+)+)", doc.read_text())}
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        for split in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                target: object = importlib.import_module(".".join(parts[:split]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[split:]:
                target = getattr(target, attribute, None)
            if target is None:
                missing.append(name)
            break
        else:
            missing.append(name)
    assert missing == []
