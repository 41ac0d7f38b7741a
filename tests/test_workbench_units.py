"""Units behind the workbench: path cleaning, link judgement, status marks, docker stats, notifications."""

from __future__ import annotations

import pytest

from clauderon_tui.notifications import event_attention, session_attention
from runtime.models import AgentStatus
from runtime.workbench.files import Refused, clean_path, link_points_inside, status_marks
from runtime.workbench.stats import summarize_inspect, summarize_stats
from tests.fake_engine import make_session


def test_clean_path() -> None:
    assert clean_path("") == [] and clean_path("./src//app.py") == ["src", "app.py"]
    for bad in ("/etc/passwd", "src/../../x", "..", "a\0b"):
        with pytest.raises(Refused):
            clean_path(bad)


def test_link_points_inside() -> None:
    assert link_points_inside("a/b", "c") and link_points_inside("a/b", "../c")
    assert not link_points_inside("a/b", "../../c") and not link_points_inside("x", "/etc/passwd")
    assert not link_points_inside("x", "..")


def test_status_marks_from_porcelain() -> None:
    porcelain = "\0".join([" M src/a.py", "A  new.py", " D gone.py", "?? notes/x.txt", "R  to.py", "from.py",
                           "MM both.py", ""])
    assert status_marks(porcelain) == {"src/a.py": "M", "new.py": "A", "gone.py": "D", "notes/x.txt": "?",
                                       "to.py": "R", "both.py": "M"}


def test_docker_stats_and_inspect_summaries() -> None:
    stats = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000}, "system_cpu_usage": 20_000_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 10_000_000},
        "memory_stats": {"usage": 500, "limit": 4000, "stats": {"inactive_file": 100}},
    }
    assert summarize_stats(stats, now=5.0) == {"cpu_percent": 40.0, "memory_bytes": 400, "memory_limit": 4000,
                                               "taken_at": 5.0}
    assert summarize_stats({}, now=1.0)["cpu_percent"] == 0.0
    info = {"Id": "abcdef0123456789", "Name": "/clauderon-x", "Config": {"Image": "img"},
            "State": {"Status": "running", "StartedAt": "t"}, "HostConfig": {"NetworkMode": "host", "NanoCpus": 2e9},
            "Mounts": [{"Source": "/h", "Destination": "/workspace", "RW": True}]}
    summary = summarize_inspect(info)
    assert summary["id"] == "abcdef012345" and summary["name"] == "clauderon-x" and summary["cpu_limit"] == 2.0
    assert summary["network_mode"] == "host"
    assert summary["mounts"] == [{"source": "/h", "destination": "/workspace", "rw": True}]


def test_session_attention_only_on_the_change_into_waiting() -> None:
    idle = make_session("s", agent_status=AgentStatus.WORKING)
    asking = idle.model_copy(update={"agent_status": AgentStatus.NEEDS_PERMISSION,
                                     "agent_detail": {"tool": "Bash", "input": "ls"}})
    note = session_attention(idle, asking)
    assert note is not None and note.title == "s needs permission" and note.message == "Bash"
    assert session_attention(asking, asking) is None  # the same question again is not news
    assert session_attention(None, asking) is None  # first sight
    assert session_attention(asking, idle) is None
    other = asking.model_copy(update={"agent_detail": {"tool": "Edit"}})
    assert session_attention(asking, other).message == "Edit"


def test_event_attention_words() -> None:
    note = event_attention({"type": "attention", "session_id": "i", "name": "s", "reasons": ["conflict"]}, {})
    assert note.title == "s: pull request needs attention" and note.message == "merge conflicts"
    note = event_attention({"type": "attention", "session_id": "i", "name": "s", "reasons": ["merged"]}, {})
    assert note.title == "s: pull request" and note.message == "merged"
    assert event_attention({"type": "attention"}, {}) is None
