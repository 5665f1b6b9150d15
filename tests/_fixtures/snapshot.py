"""Snapshots of the public contract: names a fork depends on, pinned in ``tests/snapshots/*.txt``.

    read_snapshot(name)                       the pinned names, one a line (``#`` lines are comments)
    assert_matches_snapshot(name, current, what=...)   fails naming every removed and added name

Removing or renaming a pinned name breaks forks, so the failure says what that takes: an entry under
"Breaking" in lib/CHANGELOG.md and a deliberate edit of the snapshot. Additions need the edit only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


def read_snapshot(name: str) -> list[str]:
    lines = (SNAPSHOTS / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def assert_matches_snapshot(name: str, current: Iterable[str], *, what: str, how: str = "") -> None:
    """``how``: what else a removal takes for this kind of name (one sentence, no final stop)."""
    pinned, now = read_snapshot(name), sorted(set(current))
    assert pinned == sorted(set(pinned)), f"tests/snapshots/{name} must list each name once, sorted"
    removed, added = sorted(set(pinned) - set(now)), sorted(set(now) - set(pinned))
    if not removed and not added:
        return
    message = [f"{what} differ from tests/snapshots/{name}:"]
    if removed:
        message += [
            f"  removed or renamed: {', '.join(removed)}",
            f"  Removing or renaming {what} is a breaking change for every fork. Before deleting the line(s)",
            f"  from tests/snapshots/{name}:",
            '  - add an entry under "Breaking" in the [Unreleased] section of lib/CHANGELOG.md that says what',
            "    to use instead (see docs/upgrading.md);",
            *([f"  - {how}."] if how else []),
        ]
    if added:
        message += [
            f"  added: {', '.join(added)}",
            f"  New {what} are part of the contract from now on: add the line(s) to tests/snapshots/{name}",
            '  and mention them under "Added" in lib/CHANGELOG.md.',
        ]
    raise AssertionError("\n".join(message))
