"""Run every benchmark in one go and write ``bench/RESULTS.md`` (and the raw figures as JSON).

python -m bench                      the full run (what ``make bench`` does; about 8 minutes)
python -m bench --soak 10            a shorter soak at 64 clients
python -m bench --quick --out X.md   tiny sizes, to check the harness itself works (about a minute)

The load generator is ``wrk`` (``bench/wrk.py``); ``make bench`` installs it when it can.
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

from bench import auth, coldstart, inproc, report, servers, warm, wrk
from bench.load import MODERN, PROTOCOLS
from bench.stack import ROOT, full_env, seed_user, seed_users

SECTIONS = ("cold", "warm", "auth", "servers", "inproc")
#: The many-users cell compares limits on with limits off: a user cache TTL longer than the cell keeps each
#: user's record rereads (one per user per TTL, measured with one user in section 7) out of that comparison,
#: where they would land on whichever subject runs when the TTL ends.
MANY_USERS_CACHE_TTL = 3600


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the harness, measures nothing")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of the 64-client soak (default 60)")
    parser.add_argument("--duration", type=int, default=5, help="whole seconds per load run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every load cell (default 3)")
    parser.add_argument(
        "--many-users", type=int, default=1000, help="distinct users of the limits-on/off cell (default 1000)"
    )
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
            "duration": 1,
            "rounds": 2,
            "concurrencies": (1, 4),
            "many_users": 2,  # few enough that each passes the credit: the shared windows get written
            "many_concurrency": 4,
            "many_rounds": 2,
            "soak": min(args.soak, 1.0),
            "warmup": 10,
            "auth_iterations": 50,
            "users": 200,
            "memory_users": 50,
            "requests": 500,
            "inproc_requests": 30,
            "inproc_rounds": 1,
            "ttl0_duration": 1,
        }
    return {
        "repeats": args.repeats,
        "duration": args.duration,
        "rounds": args.rounds,
        "concurrencies": (1, 16, 64),
        "many_users": args.many_users,
        "many_concurrency": 16,
        # three subjects whose ratio is a target of its own (limits on/off): more rounds than the other cells
        "many_rounds": max(args.rounds, 5),
        "soak": args.soak,
        "warmup": 200,
        "auth_iterations": 2000,
        "users": args.users,
        "memory_users": 1000,
        "requests": 5 * args.users,
        "inproc_requests": 200,
        "inproc_rounds": 15,
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

    names = ("mcp", "functions-framework", "uvicorn", "starlette", "pyjwt", "google-cloud-firestore")
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
    if args.duration < 1 or args.rounds < 1 or args.many_users < 1:
        _parser().error("--duration, --rounds and --many-users must be at least 1")
    if sections & {"warm"}:
        try:
            wrk.executable()
        except wrk.WrkMissing as missing:
            _parser().error(str(missing))
    size = _sizes(args)
    key = secrets.token_urlsafe(48)
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(),
        "machine": machine(),
        "versions": _versions() | ({"wrk": wrk.version()} if "warm" in sections else {}),
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
        results["inproc"] = inproc.run(requests=size["inproc_requests"], rounds=size["inproc_rounds"])
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
                results["import_profile"], results["import_owners"] = coldstart.import_profile(
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
    bare = warm.Subject.bare()
    try:
        full = warm.Subject.full("full", firestore, key)
        try:
            out["first_request_firestore"] = warm.first_request(full)
            for subject in (bare, full):
                subject.warm_up(PROTOCOLS)
            say(f"warm: full stack vs bare, both protocols, {size['rounds']} rounds of every cell")
            out["warm"] = warm.rounds(
                [bare, full],
                concurrencies=size["concurrencies"],
                duration=size["duration"],
                rounds=size["rounds"],
                progress=say,
            )
            say(f"warm: soak, 64 clients for {size['soak']:.0f} s")
            out["soak"] = warm.soak(full, seconds=size["soak"])
            out["rss_kib"] = {"full": full.function.rss_kib(), "bare": bare.function.rss_kib()}
        finally:
            full.stop()
        say("warm: MCP_AUTH_USER_CACHE_TTL=0 (a Firestore read on every request)")
        uncached = warm.Subject.full("full, TTL 0", firestore, key, user_cache_ttl=0)
        try:
            uncached.warm_up((MODERN,))
            out["ttl0"] = uncached.run(MODERN, concurrency=16, duration=size["ttl0_duration"])
        finally:
            uncached.stop()
        out["many_users"] = _many_users(firestore, key, bare, size, say)
    finally:
        bare.stop()
    return out


def _many_users(firestore: str, key: str, bare: warm.Subject, size: dict[str, Any], say: Any) -> dict[str, Any]:
    """The production shape: many users, each with a token and a record, limits on at a rate never reached."""
    users = [f"bench-user-{n:05d}" for n in range(size["many_users"])]
    say(f"warm: {len(users)} users, per-user and per-tool limits on and off, against bare")
    seed_users(firestore, users)
    subjects = [bare]
    try:
        for name, limits in (("limits off", False), ("limits on", True)):
            subjects.append(
                warm.Subject.full(
                    name, firestore, key, users=users, rate_limits=limits, user_cache_ttl=MANY_USERS_CACHE_TTL
                )
            )
            subjects[-1].warm_up((MODERN,))
        cells = warm.rounds(
            subjects,
            concurrencies=(size["many_concurrency"],),
            duration=size["duration"],
            rounds=size["many_rounds"],
            protocols=(MODERN,),
            progress=say,
        )
    finally:
        for subject in subjects[1:]:
            subject.stop()
    defaults = _default_limits()
    return {"users": len(users), **defaults, "user_cache_ttl": MANY_USERS_CACHE_TTL, "cell": cells[0]}


def _default_limits() -> dict[str, int]:
    """The lease and credit the function runs with (``MCP_AUTH_RATE_LIMIT_LEASE``/``_CREDIT`` unset)."""
    from mcp_auth.rates import RateLimits

    limits = RateLimits.from_strings()
    return {"lease": limits.lease, "credit": limits.credit}


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
