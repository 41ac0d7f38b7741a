"""The CLI's request path and the browser tab's app import only what they use (issue 19's start-up).

A `clauderon list` sends one request over a unix socket: importing the app (textual, rich), the proxy
(mitmproxy), the backends' SDKs (docker, kubernetes) or aiohttp would cost it more than the request itself.
Each check runs the real entry point in a fresh interpreter and reads its `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_git

ROOT = Path(__file__).resolve().parent.parent
NOT_FOR_A_REQUEST = ("textual", "rich", "mitmproxy", "docker", "kubernetes", "aiohttp", "runtime.engine.core")
NOT_FOR_A_TAB = ("mitmproxy", "docker", "kubernetes", "runtime.engine.core", "runtime.engine.lifecycle")


def loaded_after(code: str, home: Path) -> tuple[set[str], str]:
    """Run `code` (which prints through the CLI) in a fresh interpreter; the modules it loaded and its stdout."""
    probe = (f"import json, sys\n{code}\n"
             f"print('\\nMODULES=' + json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CLAUDERON_HOME": str(home), "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    out, _, modules = proc.stdout.rpartition("\nMODULES=")
    return set(json.loads(modules)), out


def imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


@pytest.mark.timeout(120)
def test_cli_requests_import_neither_the_app_nor_the_engine(host, short_tmp: Path) -> None:
    repo = short_tmp / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    for argv in (["create", "--repo", str(repo), "--name", "lean", "--agent", "shell", "--backend", "local"],
                 ["list"], ["screen", "lean"]):
        modules, out = loaded_after(f"from clauderon_tui.cli import main\nmain({argv!r})", host.home.root)
        assert imported(modules, NOT_FOR_A_REQUEST) == [], f"clauderon {argv[0]}"
        if argv[0] == "list":
            assert "lean" in out  # the request really went through


def test_the_browser_tabs_app_imports_no_engine(short_tmp: Path) -> None:
    """`clauderon tui --client-only` (what each served tab runs) joins the engine; it never hosts one."""
    modules, _ = loaded_after("import clauderon_tui.cli, clauderon_tui.app", short_tmp / "h")
    assert "textual" in modules
    assert imported(modules, NOT_FOR_A_TAB) == []
