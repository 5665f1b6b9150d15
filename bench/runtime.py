"""What a deployment installs, for running benchmark subjects as deployed (``bench/deployed/``)."""

from __future__ import annotations

import functools
import importlib.util
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNTIME = ROOT / "requirements" / "runtime.txt"
FRAMEWORK = "mcp-auth-server"
DEPLOYED = ROOT / "bench" / "deployed"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


#: What every virtualenv holds, whatever a deployment installs.
_ALWAYS = frozenset({"pip", "setuptools", "pkg_resources", "_distutils_hack"})


@functools.cache
def hidden_modules() -> tuple[str, ...]:
    """Top-level modules installed here that no runtime requirement provides (the framework's own, and
    anything else in this checkout, stay importable)."""
    allowed = {_normal(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", RUNTIME.read_text(), re.M)}
    allowed.add(FRAMEWORK)  # installed beside them (requirements/runtime.txt's header)
    providers = metadata.packages_distributions()
    return tuple(
        sorted(
            name
            for name, dists in providers.items()
            if name not in _ALWAYS and not any(_normal(d) in allowed for d in dists) and not _first_party(name)
        )
    )


def _first_party(name: str) -> bool:
    spec = importlib.util.find_spec(name) if name.isidentifier() else None
    origin = (spec.origin or next(iter(spec.submodule_search_locations or ()), "")) if spec else ""
    return bool(origin) and origin.startswith(str(ROOT)) and "site-packages" not in origin


def deployed(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a subject process that can import only what a deployment installs."""
    path = [str(DEPLOYED), *filter(None, env.get("PYTHONPATH", "").split(":"))]
    return {**env, "PYTHONPATH": ":".join(path), "BENCH_HIDDEN_MODULES": ",".join(hidden_modules())}
