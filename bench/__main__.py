"""Run every benchmark in one go and write ``bench/RESULTS.md`` (and the raw figures as JSON).

python -m bench                      the full run (what ``make bench`` does; about 5 minutes)
python -m bench --soak 10            a shorter soak at 64 clients
python -m bench --quick --out X.md   tiny sizes, to check the harness itself works
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import auth, coldstart, inproc, report, servers, warm
from bench.fsproxy import CountingProxy
from bench.stack import ROOT, full_env, seed_user

SECTIONS = ("cold", "warm", "auth", "servers", "inproc")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of the 64-client soak (default 60)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per load cell (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per cold-start figure (default 5)")
    parser.add_argument("--users", type=int, default=10_000, help="distinct users for the server cache (10000)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--firestore-emulator", metavar="HOST:PORT", help="use this emulator instead of starting one")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures here")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        default=None,
        help="measure nothing: rewrite the report from the raw figures of an earlier run",
    )
    return parser


def _sizes(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        return {
            "repeats": 1,
            "duration": 0.5,
            "concurrencies": (1, 4),
            "soak": min(args.soak, 1.0),
            "warmup": 10,
            "auth_iterations": 50,
            "users": 200,
            "memory_users": 50,
            "requests": 500,
            "inproc_requests": 30,
            "ttl0_duration": 0.5,
        }
    return {
        "repeats": args.repeats,
        "duration": args.duration,
        "concurrencies": (1, 16, 64),
        "soak": args.soak,
        "warmup": 200,
        "auth_iterations": 2000,
        "users": args.users,
        "memory_users": 1000,
        "requests": 5 * args.users,
        "inproc_requests": 1000,
        "ttl0_duration": args.duration,
    }


@contextlib.contextmanager
def _emulator(host: str | None) -> Iterator[str]:
    if host:
        yield host
        return
    from mcp_auth.devtools.emulator import FirestoreEmulator

    with FirestoreEmulator() as emulator:
        yield emulator.host


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(v, 2) for v in load],
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("mcp", "functions-framework", "uvicorn", "starlette", "pyjwt", "aiohttp", "google-cloud-firestore")
    return {name: version(name) for name in names}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.render:
        try:
            saved = json.loads(args.render.read_text())
        except (OSError, ValueError) as exc:
            _parser().error(f"--render needs the JSON file an earlier run wrote with --json: {exc}")
        args.out.write_text(report.render(saved))
        print(f"wrote {args.out} from {args.render}")
        return 0
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        _parser().error(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    size = _sizes(args)
    key = secrets.token_urlsafe(48)
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(),
        "machine": machine(),
        "versions": _versions(),
        "sizes": size,
        "quick": args.quick,
    }

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    if "auth" in sections:
        say("auth: verification cost per credential kind")
        results["auth"] = auth.run(iterations=size["auth_iterations"])
    if "servers" in sections:
        say(f"servers: build cost, memory, {size['users']} distinct users")
        results["servers"] = servers.run(
            users=size["users"], memory_users=size["memory_users"], requests=size["requests"], cache_size=1024
        )
    if "inproc" in sections:
        say("inproc: per-request cost without HTTP")
        results["inproc"] = inproc.run(requests=size["inproc_requests"], rounds=1 if args.quick else 3)
    if sections & {"cold", "warm"}:
        with _emulator(args.firestore_emulator) as firestore:
            seed_user(firestore)
            if "cold" in sections:
                env = full_env(firestore, key)
                say("cold: import times")
                results["imports"] = coldstart.import_times(
                    {**env, "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp"},
                    repeats=size["repeats"],
                    precompile=not args.quick,
                )
                results["import_profile"] = coldstart.import_profile(
                    {**env, "MCP_AUTH_RESOURCE_URL": "http://127.0.0.1:8080/mcp"}
                )
                say("cold: process start to first answered tools/call")
                results["first_call"] = coldstart.first_call_times(env, key, repeats=size["repeats"])
            if "warm" in sections:
                results.update(_warm(firestore, key, size, say))
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    args.out.write_text(report.render(results))
    say(f"wrote {args.out}")
    return 0


def _warm(firestore: str, key: str, size: dict[str, Any], say: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with CountingProxy(firestore) as proxy:
        pair = warm.Pair(proxy, key)
        try:
            out["first_request_firestore"] = warm.first_request(pair)
            say("warm: full stack vs bare, both protocols, sequential and concurrent")
            out["warm"] = warm.matrix(
                pair,
                concurrencies=size["concurrencies"],
                duration=size["duration"],
                warmup=size["warmup"],
                progress=lambda text: say(text),
            )
            say(f"warm: soak, 64 clients for {size['soak']:.0f} s")
            out["soak"] = warm.soak(pair, seconds=size["soak"])
            out["rss_kib"] = {"full": pair.full.rss_kib(), "bare": pair.function("bare").rss_kib()}
        finally:
            pair.stop()
        say("warm: MCP_AUTH_USER_CACHE_TTL=0 (a Firestore read on every request)")
        uncached = warm.Pair(proxy, key, user_cache_ttl=0, bare=False)
        try:
            out["ttl0"] = uncached.load("full", warm.MODERN, concurrency=16, duration=size["ttl0_duration"], warmup=5)
        finally:
            uncached.stop()
        say("warm: per-user and per-tool rate limits on (Firestore-shared windows), against bare")
        limited = warm.Pair(proxy, key, rate_limits=True)
        try:
            cell = warm.matrix(
                limited,
                concurrencies=(16,),
                duration=size["ttl0_duration"],
                warmup=size["warmup"],
                protocols=(warm.MODERN,),
                progress=lambda text: say(text),
            )[0]
            out["ratelimited"] = {**cell, "lease": _default_lease()}
        finally:
            limited.stop()
    return out


def _default_lease() -> int:
    """The lease the function runs with (``MCP_AUTH_RATE_LIMIT_LEASE`` unset: the default)."""
    from mcp_auth.rates import RateLimits

    return RateLimits.from_strings().lease


def _commit() -> str:
    if os.environ.get("BENCH_COMMIT"):  # a run from an exported tree names the commit it was exported from
        return os.environ["BENCH_COMMIT"]
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
