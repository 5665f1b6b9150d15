"""Cold start: import time and process start to first answered ``tools/call``, in fresh processes."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import httpx

from bench.load import MODERN, answered, echo_call
from bench.stack import ROOT, SOURCES, USER, Function, clean_env, mint

#: What is imported, per subject. "file:" subjects are loaded the way ``functions-framework --asgi`` loads a
#: source file (its ASGI module first, then the file), all of it timed.
IMPORTS = {
    "bare_sdk": "import mcp, functions_framework",
    # what the full function's first request adds: the Firestore client library (the user record is read with it)
    "firestore_client": "import mcp, functions_framework; from google.cloud import firestore",
    "bare_function": f"file:{SOURCES['bare']}",
    "full_function": f"file:{SOURCES['full']}",
}

_SNIPPET = """
import sys, time, importlib.util
subject = {subject!r}
if subject.startswith("file:"):
    path = subject[5:]
    sys.path.insert(0, path.rsplit("/", 1)[0])
t = time.perf_counter()
if subject.startswith("file:"):
    import functions_framework.aio  # what `functions-framework --asgi` imports before the source file
    spec = importlib.util.spec_from_file_location("main", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main"] = module
    spec.loader.exec_module(module)
else:
    exec(subject)
print(time.perf_counter() - t)
"""


def _python(subject: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", _SNIPPET.format(subject=subject)],
        env=clean_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def import_times(env: dict[str, str], *, repeats: int, precompile: bool = True) -> dict[str, dict[str, Any]]:
    """Median import seconds per subject; subjects alternate so machine noise hits all alike."""
    for subject in IMPORTS.values() if precompile else ():  # write .pyc files once, outside the measurement
        _python(subject, {**env, "PYTHONDONTWRITEBYTECODE": ""})  # even where the environment says not to
    samples: dict[str, list[float]] = defaultdict(list)
    names = list(IMPORTS)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # each goes first in turn
            samples[name].append(float(_python(IMPORTS[name], env).stdout.split()[-1]))
    return {name: _stats(values) for name, values in samples.items()}


def import_profile(env: dict[str, str], *, top: int = 8) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Packages the full function imports beyond the bare one (self seconds, and which module pulled them in),
    and all it imports beyond the bare one by owner (``import_owners``)."""

    def tree(subject: str) -> list[tuple[int, str, float]]:
        rows = []
        for line in _python(subject, env, "-X", "importtime").stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S.*)$", line)
            if match:
                rows.append((len(match.group(2)), match.group(3).strip(), int(match.group(1)) / 1e6))
        return rows

    def package(name: str) -> str:
        parts = name.split(".")
        if parts[0] != "google":
            return parts[0]
        return ".".join(parts[:3] if parts[1:2] == ["cloud"] else parts[:2])

    full = tree(IMPORTS["full_function"])
    bare_rows = tree(IMPORTS["bare_function"])
    bare = {package(name) for _, name, _ in bare_rows}
    totals: dict[str, float] = defaultdict(float)
    culprit: dict[str, str] = {}
    for i, (_depth, name, seconds) in enumerate(full):
        key = package(name)
        if key in bare or key in ("mcp_auth", "main", "factory", "toolsets"):
            continue
        totals[key] += seconds
        if key not in culprit:  # importtime prints children first: the importer is the next shallower line
            culprit[key] = _importer(full, i)
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
    packages = [{"package": key, "seconds": seconds, "imported_by": culprit[key]} for key, seconds in ranked]
    return packages, import_owners(full, {name for _, name, _ in bare_rows})


TEAM_MODULES = ("main", "factory", "toolsets")
"""Top-level modules of ``functions/``: the team's code (here the example toolsets), not the framework."""


def import_owners(full: list[tuple[int, str, float]], bare: set[str], *, top: int = 5) -> dict[str, dict[str, Any]]:
    """Self seconds of every module the full function imports and the bare one does not, by owner: the
    framework (``mcp_auth``), the team's code in ``functions/``, and libraries; with each owner's slowest."""
    owned: dict[str, list[tuple[str, float]]] = {"framework": [], "team": [], "libraries": []}
    for _depth, name, seconds in full:
        if name in bare:
            continue
        root = name.split(".")[0]
        owner = "framework" if root == "mcp_auth" else "team" if root in TEAM_MODULES else "libraries"
        owned[owner].append((name, seconds))
    return {
        owner: {
            "seconds": sum(seconds for _, seconds in modules),
            "modules": len(modules),
            "slowest": [{"module": n, "seconds": t} for n, t in sorted(modules, key=lambda m: -m[1])[:top]],
        }
        for owner, modules in owned.items()
    }


def _importer(rows: list[tuple[int, str, float]], index: int) -> str:
    """The first mcp_auth (or team) module above ``rows[index]`` in the import tree."""
    depth = rows[index][0]
    for later_depth, name, _ in rows[index + 1 :]:
        if later_depth < depth:
            depth = later_depth
            if name.startswith(("mcp_auth", "factory", "toolsets")) or name == "main":
                return name
    return "?"


def first_call_times(env: dict[str, str], hs256_key: str, *, repeats: int) -> dict[str, dict[str, Any]]:
    """Median seconds from spawning functions-framework to the first answered tools/call; for the full
    function also the first request's own latency, from its log line (``request``)."""
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        for kind in ("bare", "full"):
            seconds, request = _first_call(kind, env, hs256_key)
            samples[kind].append(seconds)
            if request is not None:
                samples["request"].append(request)
    return {kind: _stats(values) for kind, values in samples.items()}


_LATENCY = re.compile(r'"message": "POST /mcp 200".*?"latency_ms": ([0-9.]+)')


def _first_call(kind: str, env: dict[str, str], hs256_key: str) -> tuple[float, float | None]:
    running = Function.spawn(kind, env if kind == "full" else {})
    try:
        headers, body = echo_call(MODERN)
        if kind == "full":
            headers = {**headers, "Authorization": f"Bearer {mint(hs256_key, USER, running.url)}"}
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                running.check_alive()
                try:
                    response = client.post(running.url, content=body, headers=headers)
                except httpx.TransportError:
                    time.sleep(0.005)
                    continue
                if answered(response.status_code, response.content):
                    seconds = time.perf_counter() - running.started_at
                    return seconds, _logged_latency(running) if kind == "full" else None
                raise RuntimeError(f"the {kind} function answered {response.status_code}: {response.text[:300]}")
        raise RuntimeError(f"the {kind} function did not answer within 60 s")
    finally:
        running.stop()


def _logged_latency(running: Function) -> float | None:
    """The first request's latency in seconds, from its log line (written just after the answer is sent)."""
    give_up = time.monotonic() + 2
    while time.monotonic() < give_up:
        if logged := _LATENCY.search(running.output()):
            return float(logged.group(1)) / 1000
        time.sleep(0.01)
    return None


def _stats(values: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values), "n": len(values)}
