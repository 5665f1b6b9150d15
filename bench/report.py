"""Turn one run's figures into ``bench/RESULTS.md``: method, machine, every figure with its baseline, verdicts."""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench.targets import USER_CACHE_TTL, all_runs, cell_stats, ratio, verdicts, writes_per_100


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(r: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    m = r["machine"]
    add("# Benchmark results\n")
    if r.get("quick"):
        add("> **Quick run** (`--quick`): tiny sizes that check the harness works; the figures mean nothing.\n")
    add(f"- Date: {r['date']}; commit `{r['commit']}`; run time {r.get('elapsed_s', 0):.0f} s")
    add(
        f"- Command: `{r['command']}` (`make bench` runs `python -m bench`; "
        '`make bench BENCH_ARGS="--soak 10"` passes options)'
    )
    add(f"- Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}")
    add(
        f"- Load average at start / end: {m['loadavg_at_start']} / {m.get('loadavg_at_end', '?')}. The machine was "
        "shared with other builds and tests during the run, so absolute figures are noisy; each "
        "comparison is full stack against bare in the same run, back to back, in alternating rounds, and "
        "the ratios of the rounds' medians are what the targets judge."
    )
    add("- Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    add("")
    add(_method())
    add(_targets(r))
    if "imports" in r:
        add(_cold(r))
    if "warm" in r:
        add(_warm(r))
    if "many_users" in r:
        add(_many_users(r["many_users"]))
    if "inproc" in r:
        add(_inproc(r["inproc"]))
    if "auth" in r:
        add(_auth(r["auth"]))
    if "servers" in r:
        add(_servers(r["servers"]))
    if "warm" in r:
        add(_firestore(r))
    add(_why(r))
    return "\n".join(out).rstrip() + "\n"


def _method() -> str:
    return """## Method

- **Subjects.** *Full stack*: `functions/main.py` (`wrap_server(FACTORY)`: Host/Origin edge, JWT (HS256)
  through the verification cache, the user record from Firestore through the user cache, the per-user server from
  the server cache, per-tool scope checks). *Bare*: `bench/baseline/main.py`, the MCP SDK alone: one `MCPServer`
  with the same prebuilt `echo` tool, a per-request stateless `StreamableHTTPSessionManager`, no authentication.
  Both are served by `functions-framework --asgi` (one uvicorn worker) on loopback, as deployed: each subject
  process can import only what the function archive installs (`requirements/runtime.txt` and the framework;
  `bench/runtime.py` hides the development tools installed beside them, and what they pull in, such as `rich`).
- **Client.** `wrk` (C, one thread, keep-alive; connections = clients, closed loop) with `bench/wrk.lua`, which
  replays prebuilt HTTP requests of a JSON-RPC `tools/call` and checks every answer: HTTP 200 and a JSON-RPC
  result that is not a tool error, in a JSON body or the last `data:` line of an SSE stream; anything else is
  counted as an error, with wrk's socket errors and timeouts. Protocol 2026-07-28 sends `Mcp-Method`/`Mcp-Name`
  and `_meta`; handshake-era 2025-11-25 sends a stateless `tools/call` with `MCP-Protocol-Version`; the full stack
  gets `Authorization: Bearer`. With many users, the script sends each user's request in turn. Latency
  percentiles come from wrk's histogram (its `done` hook). The client's own CPU time is wrk's rusage
  (`os.wait4`); the server's is the CPU time of its process group (`/proc`), per answered request.
- **Rounds.** Every cell runs in rounds: each subject once per round, back to back, the order rotating so each goes
  first in turn. A cell reports the median and range over the rounds; a ratio is the ratio of the two medians,
  with the range of the per-round ratios beside it, so a ratio can be told from noise.
- **Cold start.** Fresh interpreters, with `.pyc` files written beforehand; the import is timed inside the process
  (`perf_counter` around it), and "first call" is from spawning `functions-framework` to the first answered
  `tools/call` (polling); the full function's own log line gives its first request's latency. Medians.
- **Firestore.** Each full-stack instance reaches the emulator through a counting proxy of its own
  (`bench/fsproxy.py`) that decodes the gRPC (HTTP/2) request headers, and the REST API's HTTP/1.1 request lines,
  and counts calls per method.
- **Auth, per-user servers, in-process cost** run in this process (or one child) against the framework's classes
  with keys generated for the run.
"""


def _targets(r: dict[str, Any]) -> str:
    rows = ["## Targets\n", "| target | measured | verdict |", "|---|---|---|"]
    rows += [f"| {v.target} | {v.measured} | {_verdict(v.ok)} |" for v in verdicts(r)]
    return "\n".join(rows) + "\n"


def _cold(r: dict[str, Any]) -> str:
    imp, first = r["imports"], r.get("first_call", {})
    sdk, function = imp["bare_sdk"]["median_s"], imp["bare_function"]["median_s"]
    n = imp["bare_sdk"]["n"]
    rows = [
        f"## 1. Cold start (medians of {n} fresh processes)\n",
        "| what | median | min - max | x bare function | x `import mcp, functions_framework` |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "bare_sdk": "import `mcp, functions_framework`",
        "firestore_client": "import `mcp, functions_framework` and the Firestore client (`google.cloud.firestore`)",
        "bare_function": "import the bare function (ASGI module + `bench/baseline/main.py`)",
        "full_function": "import the full function (ASGI module + `functions/main.py`)",
    }
    for name, label in labels.items():
        if name not in imp:  # a run from before the subject was measured
            continue
        s = imp[name]
        rows.append(
            f"| {label} | {s['median_s'] * 1000:.0f} ms | {s['min_s'] * 1000:.0f} - {s['max_s'] * 1000:.0f} ms"
            f" | {ratio(s['median_s'], function):.2f} | {ratio(s['median_s'], sdk):.2f} |"
        )
    if first:
        if "request" in first:
            s = first["request"]
            rows.append(
                f"| of which the full function's first request (its log line) | {s['median_s'] * 1000:.0f} ms | "
                f"{s['min_s'] * 1000:.0f} - {s['max_s'] * 1000:.0f} ms | | |"
            )
        for kind in ("bare", "full"):
            s = first[kind]
            rows.append(
                f"| process start to first answered tools/call, {kind} | {s['median_s'] * 1000:.0f} ms | "
                f"{s['min_s'] * 1000:.0f} - {s['max_s'] * 1000:.0f} ms | "
                f"{ratio(s['median_s'], first['bare']['median_s']):.2f} (x bare start) | |"
            )
    if r.get("import_profile"):
        rows += [
            "",
            "What the full function imports that the bare one does not (self time under `-X importtime`, "
            "which inflates it; the first framework module on the import chain):",
            "",
            "| package | seconds | imported by |",
            "|---|---|---|",
        ]
        rows += [f"| {p['package']} | {p['seconds']:.3f} | `{p['imported_by']}` |" for p in r["import_profile"]]
    if r.get("import_owners"):
        rows += [
            "",
            "Everything the full function imports that the bare one does not, by whose code it is (self time "
            "under `-X importtime`, summed; the slowest modules):",
            "",
            "| owner | modules | seconds | slowest |",
            "|---|---|---|---|",
        ]
        for owner, label in _OWNERS.items():
            o = r["import_owners"][owner]
            slowest = ", ".join(f"`{m['module']}` {m['seconds'] * 1000:.1f} ms" for m in o["slowest"])
            rows.append(f"| {label} | {o['modules']} | {o['seconds']:.3f} | {slowest} |")
    return "\n".join(rows) + "\n"


_OWNERS = {
    "framework": "the framework (`mcp_auth`)",
    "team": "the team's code (`functions/`: the example toolsets, which build their tools at import)",
    "libraries": "libraries",
}


def _spread(s: dict[str, float], digits: int = 0) -> str:
    return f"{_f(s['median'], digits)} ({_f(s['min'], digits)}-{_f(s['max'], digits)})"


def _ratio_cell(figure: dict[str, Any]) -> str:
    rounds = figure["round_ratios"]
    return f"{_f(figure['ratio'], 2)} ({_f(rounds['min'], 2)}-{_f(rounds['max'], 2)})"


def _comparison(cell: dict[str, Any], subject: str, baseline: str) -> str:
    s = cell_stats(cell, subject, baseline)
    rps, p99, cpu = s["rps"], s["p99_ms"], s["server_cpu_us_per_request"]
    return (
        f"| {_spread(rps[baseline])} | {_spread(rps[subject])} | {_ratio_cell(rps)} | "
        f"{_spread(p99[baseline], 1)} | {_spread(p99[subject], 1)} | {_ratio_cell(p99)} | "
        f"{_f(cpu[baseline]['median'], 0)} / {_f(cpu[subject]['median'], 0)} ({_f(cpu['ratio'], 2)}) | "
        f"{s['errors'][baseline]} / {s['errors'][subject]} |"
    )


_COMPARISON_HEAD = (
    "{b} req/s | {s} req/s | x | {b} p99 ms | {s} p99 ms | p99 x | server CPU µs/request {b} / {s} (x) | "
    "errors {b} / {s} |"
)


def _warm(r: dict[str, Any]) -> str:
    rounds = len(r["warm"][0]["runs"]["full"]) if r["warm"] else 0
    head = _COMPARISON_HEAD.format(b="bare", s="full")
    rows = [
        "## 2. Warm `tools/call` latency and throughput\n",
        f"One user, one token (verification-cache hit), user record and server cached. Median over {rounds} rounds "
        f"of {r['sizes']['duration']} s per subject, (min-max); x is the ratio of the medians, (the range of the "
        "per-round ratios).\n",
        "| protocol | clients | " + head,
        "|---|---|" + "---|" * head.count("|"),
    ]
    for c in r["warm"]:
        rows.append(f"| {c['protocol']} | {c['concurrency']} " + _comparison(c, "full", "bare"))
    shares = [(run["client_cpu_share"], run["rps"]) for run in all_runs(r)]
    busiest = max(shares)
    rows.append(
        f"\n**The client is not the bottleneck**: over {len(shares)} wrk runs, wrk used at most {busiest[0]:.1%} "
        f"of one core (in a run at {busiest[1]:.0f} req/s; median {statistics.median(s for s, _ in shares):.1%}), "
        "while the server's one worker needs a whole core for the same requests."
    )
    if "soak" in r:
        s = r["soak"]
        rows.append(
            f"\n**Soak** (full stack, 2026-07-28, 64 clients, {s['seconds']:.0f} s): "
            f"{s['requests']:,} requests, {s['errors']} errors {s['error_kinds'] or ''}, "
            f"{s['rps']:.0f} req/s, p50 / p95 / p99 {_latencies(s)} ms; server RSS "
            f"{s['rss_before_kib'] / 1024:.0f} MiB before, {s['rss_after_kib'] / 1024:.0f} MiB after."
        )
    if "rss_kib" in r:
        rows.append(
            f"\nResident memory after the warm runs: full {r['rss_kib']['full'] / 1024:.0f} MiB, "
            f"bare {r['rss_kib']['bare'] / 1024:.0f} MiB."
        )
    return "\n".join(rows) + "\n"


def _many_users(many: dict[str, Any]) -> str:
    cell = many["cell"]
    rounds = len(cell["runs"]["bare"])
    rows = [
        "## 3. Many users, rate limits on (the production shape)\n",
        f"{many['users']:,} distinct users, each with its own token and user record in Firestore, called in turn "
        f"({cell['protocol']}, {cell['concurrency']} clients, {rounds} rounds). *Limits on*: the per-user and "
        "per-tool limits (`MCP_AUTH_RATE_LIMIT_USER`/`_TOOL`) at a rate never reached, windows shared through "
        f"Firestore with a lease of {many['lease']} units per write and a credit of {many.get('credit', 0)} units "
        "per key and window admitted before an instance's first write (docs/rate-limits.md); *limits off*: the "
        "same stack with both off. "
        f"Both run with `MCP_AUTH_USER_CACHE_TTL={many.get('user_cache_ttl', USER_CACHE_TTL)}`, longer than the "
        "cell, so the record rereads a TTL brings (one per user per TTL, section 7) do not land on whichever "
        "subject runs when it ends.\n",
    ]
    for subject, baseline in (("limits on", "limits off"), ("limits on", "bare"), ("limits off", "bare")):
        head = _COMPARISON_HEAD.format(b=baseline, s=subject)
        rows += [f"| {subject} vs {baseline} | " + head, "|---|" + "---|" * head.count("|")]
        rows.append(f"| {cell['protocol']} x{cell['concurrency']} " + _comparison(cell, subject, baseline))
        rows.append("")
    for subject in ("limits off", "limits on"):
        runs = cell["runs"][subject]
        requests = sum(run["requests"] for run in runs)
        reads = sum(run["firestore_reads"] for run in runs)
        rows.append(
            f"- {subject}: {requests:,} requests, {reads:,} Firestore reads, "
            f"{sum(run['firestore_writes'] for run in runs):,} writes ({_f(writes_per_100(cell, subject), 2)} per "
            f"100 requests)"
        )
    return "\n".join(rows) + "\n"


def _protocols(inproc: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {k: v for k, v in inproc.items() if isinstance(v, dict) and k not in ("log_line", "profile", "limits")}


def _latencies(summary: dict[str, Any]) -> str:
    return f"{summary['p50_ms']:.1f} / {summary['p95_ms']:.1f} / {summary['p99_ms']:.1f}"


def _inproc(results: dict[str, Any]) -> str:
    rows = [
        "## 4. Per-request cost without HTTP (ASGI apps called in-process: CPU time of the process per request, "
        f"the least of {results.get('rounds', 3)} alternating rounds of {results.get('requests', 1000)} requests)\n",
        "| protocol | bare µs | full µs | framework adds | full, log level WARNING µs | of which logging |",
        "|---|---|---|---|---|---|",
    ]
    for protocol, v in _protocols(results).items():
        quiet = v.get("full_quiet_us", math.nan)
        rows.append(
            f"| {protocol} | {v['bare_us']:.0f} | {v['full_us']:.0f} | {v['full_us'] - v['bare_us']:+.0f} µs "
            f"({ratio(v['full_us'], v['bare_us']):.2f}x) | {quiet:.0f} | {v['full_us'] - quiet:+.0f} µs |"
        )
    rows.append(
        "\nAt INFO (the default) the full stack writes one JSON line per request to stdout, which is also "
        "its audit record (authentication decision, MCP method, tool, outcome, latency). The WARNING column "
        "is the same app with that line off; the difference is what logging costs per request."
    )
    if "log_line" in results:
        line = results["log_line"]
        rows.append(
            f"\nOne such line costs {line['total_us']:.0f} µs in all (log record, JSON formatting "
            f"{line['format_us']:.0f} µs, redaction, the write and flush to stdout), once per request."
        )
    if "limits" in results:
        limits = results["limits"]
        rows.append(
            f"\nRate limits (the many-users cell of section 3 without HTTP: {limits['users']:,} users called in turn, "
            "the per-user and per-tool limits at a rate never reached, each user within its credit): "
            f"{limits['off_us']:.0f} µs per request with the limits off, {limits['on_us']:.0f} µs with them on "
            f"({limits['on_us'] - limits['off_us']:+.0f} µs, {ratio(limits['off_us'], limits['on_us']):.2f}x the "
            "throughput)."
        )
    if "profile" in results:
        profile = results["profile"]
        rows += [
            f"\nProfile of the full stack in process (cProfile, {profile['requests']:,} {profile['protocol']} "
            "requests; cProfile's own overhead inflates every figure, so read them against each other): the "
            "functions with the most self time per request.\n",
            "| function | calls / request | self µs / request | cumulative µs / request |",
            "|---|---|---|---|",
        ]
        rows += [
            f"| `{row['function']}` | {row['calls_per_request']:.1f} | {row['self_us']:.1f} | "
            f"{row['cumulative_us']:.1f} |"
            for row in profile["top_self"]
        ]
    return "\n".join(rows) + "\n"


def _auth(results: dict[str, Any]) -> str:
    rows = [
        "## 5. Authentication (per verification, in-process)\n",
        "| credential | miss: provider alone | miss through the cache | cache hit |",
        "|---|---|---|---|",
    ]
    for kind, v in results.items():
        rows.append(f"| {kind} | {v['miss_us']:.0f} µs | {v['cached_miss_us']:.0f} µs | {v['hit_us']:.2f} µs |")
    rows.append(
        "\nIntrospection is answered by a loopback HTTP server in a thread of the benchmark process, so a miss"
        " includes one local HTTP round trip. API keys are not measured yet: `ApiKeyProvider` verifies against "
        "key records in Firestore, so a miss is a Firestore read plus a keyed hash, and a hit is the same "
        "`CachedProvider` lookup as the rows above."
    )
    return "\n".join(rows) + "\n"


def _servers(s: dict[str, Any]) -> str:
    b, mem, many = s["build"], s["memory"], s["many_users"]
    return f"""## 6. Per-user servers

| what | figure |
|---|---|
| build, bare SDK `MCPServer(tools=...)` | {b["bare_sdk_build_us"]:.0f} µs |
| build, team factory (`functions/factory.py`) | {b["factory_build_us"]:.0f} µs |
| `ServerCache` miss (factory + tool scopes + middleware) | {b["cache_miss_us"]:.0f} µs |
| `ServerCache` hit | {b["cache_hit_us"]:.2f} µs |
| memory per cached server ({mem["users"]} cached, tracemalloc) | {mem["bytes_per_server"] / 1024:.1f} KiB |
| {many["users"]:,} users, {many["requests"]:,} requests (Zipf-like popularity), cache size {many["cache_size"]} | \
{many["distinct_seen"]:,} distinct users seen, {many["builds"]:,} builds, hit rate {many["hit_rate"]:.1%}, \
largest cache {many["largest_cache"]}, peak {many["peak_mib"]:.1f} MiB |
| memory over the run (MiB, every tenth of the requests) | {", ".join(str(x) for x in many["memory_samples_mib"])} |

The cache is an LRU bounded by `MCP_AUTH_SERVER_CACHE_SIZE` (default 1024): memory stops growing once it is full,
whatever the number of users; a miss costs one build.
"""


def _firestore(r: dict[str, Any]) -> str:
    first = r["first_request_firestore"]
    rows = [
        "## 7. Firestore calls on the request path\n",
        "| request | reads | writes |",
        "|---|---|---|",
        f"| first request for a known user on a fresh instance (the record; the layout, once per instance) "
        f"| {first['reads']} | {first['writes']} |",
    ]
    for c in r["warm"]:
        runs = c["runs"]["full"]
        rows.append(
            f"| warm, {c['protocol']}, {c['concurrency']} clients, one user ({sum(x['requests'] for x in runs):,} "
            f"requests) | {sum(x['firestore_reads'] for x in runs)} | {sum(x['firestore_writes'] for x in runs)} |"
        )
    if "soak" in r:
        s = r["soak"]
        rows.append(
            f"| soak, 64 clients, {s['seconds']:.0f} s ({s['requests']:,} requests) | {s['firestore_reads']}"
            f" | {s['firestore_writes']} |"
        )
    if "ttl0" in r:
        t = r["ttl0"]
        rows.append(
            f"| `MCP_AUTH_USER_CACHE_TTL=0`, 16 clients ({t['requests']:,} requests, {t['rps']:.0f} req/s, "
            f"p99 {t['p99_ms']:.1f} ms) | {t['firestore_reads']} | {t['firestore_writes']} |"
        )
    if "many_users" in r:
        many = r["many_users"]
        for subject in ("limits off", "limits on"):
            runs = many["cell"]["runs"][subject]
            rows.append(
                f"| {many['users']:,} users, {subject} ({sum(x['requests'] for x in runs):,} requests) | "
                f"{sum(x['firestore_reads'] for x in runs)} | {sum(x['firestore_writes'] for x in runs)} |"
            )
    listens = sum(x.get("firestore_listens", 0) for c in r["warm"] for x in c["runs"]["full"])
    rows.append(
        f"\nReal-time listener streams opened during the warm runs: {listens} (the revocation listener, one per "
        "instance, opened just after its first request; not counted as reads above)."
    )
    rows.append(
        "\nA warm request reads nothing: the user record stays cached for `MCP_AUTH_USER_CACHE_TTL` seconds "
        "(default 30), after which the next request for that user rereads it once, so a user costs at most "
        "one read per TTL per instance. With the TTL at 0 (as some tests set it) every request reads, "
        "except that concurrent requests for one user share one read. With the per-user and per-tool "
        "limits on, each instance takes a lease of several units per Firestore write to a shared window "
        "(`MCP_AUTH_RATE_LIMIT_LEASE`), so a request costs a fraction of a write per limit; the one-user cells "
        "run with those two limits off, as one benchmark user sends far more than a person would.\n\n"
        "Revocation on every instance (`users sign-out`, `disable`, `keys revoke`: docs/operations.md) costs no "
        "read per request: each instance holds one Firestore `Listen` stream, opened just after its first request "
        "and counted apart from reads, through which record changes are pushed; per "
        "request the check is two comparisons in memory (the record's `tokens_valid_after` against the "
        "credential's issue time, and the entry's age against the listener's state), the first of which is inside "
        "the in-process figures of section 4."
    )
    return "\n".join(rows) + "\n"


def _why(r: dict[str, Any]) -> str:
    missed = [v for v in verdicts(r) if not v.ok]
    notes = ["## Where a target is missed, and why\n"]
    if not missed:
        notes.append("- None: every target above is met in this run.")
        return "\n".join(notes) + "\n"
    notes += [f"- **{v.target}**: {v.measured}." for v in missed]
    if "imports" in r and any("import" in v.target for v in missed):
        culprits = sorted({p["imported_by"] for p in r.get("import_profile", [])[:6]})
        owners = r.get("import_owners")
        split = (
            " By owner: "
            + ", ".join(f"{_OWNERS[o].split(' (')[0]} {owners[o]['seconds'] * 1000:.0f} ms" for o in _OWNERS)
            + " of self time under `-X importtime` (section 1). The example toolsets build their tools at import, "
            "each a pydantic model and its JSON schema made by the SDK's `Tool.from_function`; a team serving "
            "fewer tools pays less."
            if owners
            else ""
        )
        notes.append(
            "\nCold import: what `functions/main.py` imports beyond the bare function is in the table of section 1 "
            f"(first importers: {', '.join(f'`{c}`' for c in culprits) or 'none found'})." + split
        )
    request = r.get("first_call", {}).get("request")
    if request and any("first answered" in v.target for v in missed):
        notes.append(
            f"\nFirst call: the full function's first request took {request['median_s'] * 1000:.0f} ms inside the "
            "framework (section 1). Profiled (cProfile around the first request under functions-framework), it is "
            "mostly imports done on first use: the first token's verification imports PyJWT and, through it, "
            "cryptography's key modules (20-30 ms); the process's pooled HTTP client imports httpx, httpcore and h11 "
            "(about 30 ms) and loads the CA bundle for TLS (about 20 ms); then it reads the layout version and the "
            "user's record over Firestore's REST API, concurrently, one round trip to the emulator (8-12 ms here). "
            "Moving those imports to start-up would only move them into the import row. It no longer imports "
            "Firestore's gRPC client library (200-250 ms here; `tests/store/test_rest.py` pins that), nor runs a "
            "full garbage collection over what start-up imported (about 40 ms; `mcp_auth/heap.py`). The bare "
            "function does none of it. The rest of the gap is the import row: the framework and the example "
            "toolsets `functions/main.py` serves, which build their tools at import. An instance kept warm "
            "(`min_instances`, docs/deploy.md) never pays any of it on a user's call."
        )
    if r.get("warm") and any(v.target.startswith("warm") for v in missed):
        notes.append("\nWarm cells: " + _noise_note(r))
    limits = r.get("inproc", {}).get("limits")
    if limits and any(v.target.startswith("limits on / limits off") for v in missed):
        notes.append(
            f"\nLimits on/off: in process, the limits add {limits['on_us'] - limits['off_us']:+.0f} µs of CPU to a "
            f"request of {limits['off_us']:.0f} µs with {limits['users']:,} users (section 4), with no Firestore call "
            "while each user is within its credit (section 3 counts the calls). The HTTP cell's ratio moves with "
            "the machine: its per-round ratios are in the table of section 3."
        )
    if "many_users" in r and any(v.target.startswith("limits on:") for v in missed):
        notes.append(
            f"\nLimits: an instance admits a key's first {r['many_users'].get('credit', 0)} units of a window on "
            f"credit (no write), its first lease is {r['many_users']['lease']} units and each further one twice the "
            "one before, so a busy key costs a few writes per window and a light one none (docs/rate-limits.md); "
            "with two limits per request (the user's and the tool's), a user who sends more than the credit in "
            "one window on one instance costs about two writes in that window, which is what this cell counts."
            + _calls_per_user(r["many_users"])
        )
    return "\n".join(notes) + "\n"


def _calls_per_user(many: dict[str, Any]) -> str:
    runs = many.get("cell", {}).get("runs", {}).get("limits on", [])
    requests = sum(run.get("requests", 0) for run in runs)
    if not runs or not many.get("users"):
        return ""
    return (
        f" Here each of the {many['users']:,} users sent {requests / many['users']:.0f} calls to the limits-on "
        f"instance in {len(runs)} runs of a few seconds, against a credit of {many.get('credit', 0)}: whether a "
        "user's calls fall in one minute window or straddle two decides whether they cost a write, so this figure "
        "moves between runs (it is 0 when no user's calls in one window pass the credit)."
    )


def _noise_note(r: dict[str, Any]) -> str:
    inproc = r.get("inproc", {})
    if not inproc:
        return "see the in-process figures for what the framework itself adds."
    parts = []
    for protocol, v in _protocols(inproc).items():
        parts.append(f"{protocol}: {v['full_us'] - v['bare_us']:+.0f} µs ({v['full_us'] / v['bare_us'] - 1:+.0%})")
    if "log_line" in inproc:
        parts.append(f"the request's one log line costs {inproc['log_line']['total_us']:.0f} µs")
    cpu = [cell_stats(cell, "full", "bare")["server_cpu_us_per_request"]["ratio"] for cell in r.get("warm", [])]
    under_http = f" is {min(cpu):.2f}-{max(cpu):.2f}x bare's" if cpu else ""
    return (
        "in process, without HTTP, the framework adds per request " + "; ".join(parts) + " (section 4); "
        f"under HTTP the server CPU per request (section 2){under_http}. An instance is slowest in its first "
        "seconds, before its revocation listener is up and its start-up objects are frozen out of the garbage "
        "collector's scans (`mcp_auth/heap.py`): each subject here is a fresh process, warmed up for about a "
        "second before its rounds."
    )
