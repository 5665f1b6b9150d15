"""``mcp-auth smoke URL [--token T] [--tool NAME]``: a deployment's post-deploy check (``mcp_auth.smoke``)."""

from __future__ import annotations

import argparse
import asyncio

from mcp_auth.cli._common import UsageError
from mcp_auth.smoke import SmokeUsageError, Verdict, add_arguments, smoke_from


async def _smoke(args: argparse.Namespace, settings: object) -> str:
    try:
        smoke = smoke_from(args)
    except SmokeUsageError as exc:
        raise UsageError(str(exc)) from None

    def report(verdict: Verdict) -> None:
        print(verdict.line(), flush=True)

    await asyncio.to_thread(smoke.run, report)
    if smoke.failed:
        raise UsageError(f"smoke: {len(smoke.failed)} check(s) failed: {', '.join(v.step for v in smoke.failed)}")
    return ""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    smoke = sub.add_parser(
        "smoke",
        help="Check a deployed endpoint: metadata, challenge, health and, with a token, tools.",
        description="Prints a verdict per check (ok, FAIL with what to fix, skip); exit status 2 if any failed. "
        "Reads no settings: everything comes from the URL.",
    )
    add_arguments(smoke)
    smoke.set_defaults(run=_smoke, needs_settings=False)
