"""TasksExtension refuses settings that could not work, saying what was wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mcp_auth.tasks import TaskPolicy, TasksExtension


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": timedelta(seconds=5)}, "ttl"),
        ({"ttl": timedelta(days=60)}, "ttl"),
        ({"max_runtime": timedelta(0)}, "max_runtime"),
        ({"max_runtime": timedelta(hours=2)}, "max_runtime"),
        ({"watch_interval": timedelta(minutes=5)}, "watch_interval"),
        ({"poll_interval": timedelta(milliseconds=1)}, "poll_interval"),
    ],
)
def test_impossible_timings_are_refused(kwargs: dict[str, timedelta], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TasksExtension({"job": TaskPolicy()}, **kwargs)


def test_tools_must_be_named_with_a_policy() -> None:
    with pytest.raises(ValueError, match="at least one tool"):
        TasksExtension({})
    with pytest.raises(TypeError, match="TaskPolicy"):
        TasksExtension({"job": "required"})  # type: ignore[dict-item]
