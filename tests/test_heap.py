"""A serving process freezes its start-up objects once (lib/mcp_auth/heap.py): in a fresh interpreter, since a
freeze is process-wide and cannot be undone."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from mcp_auth.heap import settle
before = gc.get_freeze_count()
first = settle()
frozen = gc.get_freeze_count()
later = [object() for _ in range(1000)]  # made after: collected as usual, never frozen
second = settle()
print(before, first, frozen > 1000, second, gc.get_freeze_count() == frozen)
"""


def test_the_objects_alive_at_the_first_settle_are_frozen_and_later_ones_never_are():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["0", "True", "True", "False", "True"]
