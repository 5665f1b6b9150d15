"""Run a benchmark subject as deployed: only what the function archive installs is importable.

The benchmark runs in the development environment, which also holds the test and lint tools and what
they pull in (``rich``, ``pygments`` ...). A library that imports an optional package when it is
installed (``httpx`` imports its command line, and with it ``rich`` and ``pygments``) would pay for it
here and not in a deployment. ``bench/runtime.py`` puts this directory on ``PYTHONPATH`` and names, in
``BENCH_HIDDEN_MODULES``, the top-level modules that no distribution of ``requirements/runtime.txt``
(or the framework) provides; importing one of them fails as it would in the deployed function.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

_HIDDEN = frozenset(filter(None, os.environ.get("BENCH_HIDDEN_MODULES", "").split(",")))


class _NotInstalled:
    """A meta path finder that says the hidden top-level modules are not installed."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name in _HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (not installed in a deployment)", name=name)
        return None


if _HIDDEN:
    sys.meta_path.insert(0, _NotInstalled())
