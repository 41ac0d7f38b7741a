"""Fixtures of the chaos suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import Cli


@pytest.fixture
def local_cli(short_tmp: Path):
    """The real CLI on a fresh home whose sessions run on the local backend; its engine is gone afterwards."""
    cli = Cli(short_tmp / "h", image="unused")
    (cli.home / "config.toml").write_text('[session]\nbackend = "local"\n[engine]\non_exit = "stop"\n')
    yield cli
    cli("engine", "stop", check=False, timeout=60)
    cli.kill_engine()
