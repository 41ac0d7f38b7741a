"""`clauderon create --print`: wait for the headless run the engine does, then report it for a script.

The engine runs the prompt and keeps the outcome on the session (`Session.print_run`,
`runtime.engine.print_runs`); this side only polls the API until it is there and prints it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from runtime.api.client import EngineClient
from runtime.models import Session, Status
from runtime.textsafe import display_text

POLL_SECONDS = 0.5


async def wait_for_run(client: EngineClient, session: Session) -> Session:
    """The session once its print run finished (or its create failed)."""
    while session.status != Status.FAILED and session.print_run is not None and session.print_run.finished_at is None:
        await asyncio.sleep(POLL_SECONDS)
        session = await client.get_session(session.id)
    return session


def report(session: Session) -> dict[str, Any]:
    """The `--json` answer: exactly `name`, `exit_status`, `result` and `transcript` (docs/api.md)."""
    run = session.print_run
    if session.status == Status.FAILED or run is None:
        return {"name": session.name, "exit_status": None, "result": f"create failed: {session.error}",
                "transcript": None}
    return {"name": session.name, "exit_status": run.exit_status, "result": run.result, "transcript": run.transcript}


def print_report(session: Session, *, as_json: bool) -> int:
    """Print the run's outcome (the final message, or the JSON answer); 0 when the agent exited 0, else 1."""
    answer = report(session)
    ok = answer["exit_status"] == 0
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        print(display_text(answer["result"] or ""))
        if not ok:
            status = "no exit status" if answer["exit_status"] is None else f"exit status {answer['exit_status']}"
            print(f"clauderon: the print run of {session.name} failed ({status})", file=sys.stderr)
    return 0 if ok else 1
