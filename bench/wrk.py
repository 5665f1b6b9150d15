"""The load generator: ``wrk`` (C, one thread, keep-alive) with ``bench/wrk.lua``, which checks every answer.

``run(url, requests, connections=N, duration=D)`` replays the prebuilt requests (one, or one per user
in turn) over N keep-alive connections (N clients, closed loop) for D whole seconds and returns
what it measured: good answers per second, errors by kind, latency percentiles from wrk's
histogram, and the CPU seconds the wrk process itself used (``os.wait4``), so a report can show
the client is not the bottleneck.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk.lua")
INSTALL_HINT = (
    "the benchmark's load generator is wrk (4.x, with LuaJIT): `make bench` installs it with apt-get when it can "
    "(scripts/bench_setup.sh); otherwise install it yourself, e.g. `sudo apt-get install wrk` on Debian/Ubuntu "
    "or `brew install wrk` on macOS"
)


class WrkMissing(RuntimeError):
    """``wrk`` is not on PATH."""


def executable() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing(INSTALL_HINT)
    return found


def version() -> str:
    """wrk's own version line (it prints it with its usage text and exits 1)."""
    completed = subprocess.run([executable(), "--version"], capture_output=True, text=True, timeout=10)
    lines = (completed.stdout + completed.stderr).splitlines()
    return lines[0].split(" Copyright")[0].split(" [")[0].removeprefix("wrk ") if lines else "unknown"


def write_requests(path: Path, requests: Sequence[bytes]) -> None:
    """The file ``wrk.lua`` reads: each request as its length on a line, then its bytes."""
    if not requests:
        raise ValueError("write_requests needs at least one request")
    with path.open("wb") as out:
        for raw in requests:
            out.write(b"%d\n" % len(raw))
            out.write(raw)


def run(
    url: str, requests: Sequence[bytes], *, connections: int, duration: float, timeout: float = 30.0
) -> dict[str, Any]:
    """One wrk run of ``duration`` seconds (rounded up to whole seconds, at least 1), one thread."""
    seconds = max(1, math.ceil(duration))
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "requests"
        write_requests(spec, requests)
        command = [
            executable(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={max(1, math.ceil(timeout))}s",
            "-s",
            str(SCRIPT),
            url,
            "--",
            str(spec),
        ]
        started = time.perf_counter()
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
            output = process.stdout.read().decode(errors="replace")  # type: ignore[union-attr]
            _, status, usage = os.wait4(process.pid, 0)  # the rusage of this one child: wrk's own CPU time
            process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output[-2000:]}")
    return summarize(output, connections=connections, client_cpu_s=usage.ru_utime + usage.ru_stime, wall_s=wall)


def summarize(output: str, *, connections: int, client_cpu_s: float, wall_s: float) -> dict[str, Any]:
    """The figures of one run from wrk's output (its ``WRK_RESULT`` line) and the client's CPU seconds."""
    line = next((row for row in output.splitlines() if row.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no WRK_RESULT line (is {SCRIPT.name} the script?):\n{output[-2000:]}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    seconds = raw["duration_us"] / 1e6
    kinds = {
        "HTTP status other than 200": raw["bad_status"],
        "200 without a JSON-RPC result that is not a tool error": raw["bad_body"],
        "connect": raw["connect"],
        "read": raw["read"],
        "write": raw["write"],
        "timeout": raw["timeout"],
    }
    bad_answers = raw["bad_status"] + raw["bad_body"]
    errors = sum(kinds.values())
    ok = raw["requests"] - bad_answers
    return {
        "concurrency": connections,
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "ok": ok,
        "errors": errors,
        "error_kinds": {kind: n for kind, n in kinds.items() if n},
        "first_bad_answer": raw["bad_sample"],
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "max_ms": raw["max_us"] / 1000,
        "client_cpu_s": round(client_cpu_s, 3),
        "client_cpu_share": round(client_cpu_s / seconds, 4) if seconds else math.nan,
        "client_wall_s": round(wall_s, 3),
    }
