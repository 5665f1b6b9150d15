"""``mcp-auth check``: the settings against the team's toolsets (``mcp_auth.checks``)."""

from __future__ import annotations

import argparse

from mcp_auth.cli._common import UsageError
from mcp_auth.config import Settings


async def _check(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.checks import configuration_problems
    from mcp_auth.toolsets import load_factory

    factory = load_factory(settings.factory)
    problems = configuration_problems(settings, factory)
    if problems:
        raise UsageError(" ".join(problems))
    tools = sum(len(t.tools) for t in factory.toolsets.values())
    return (
        f"ok: {len(factory.toolsets)} toolsets ({', '.join(sorted(factory.toolsets))}), {tools} tools; "
        f"advertised scopes: {' '.join(sorted(factory.scopes | set(settings.scopes_supported))) or 'none'}"
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    check = sub.add_parser(
        "check",
        help="Check the settings against the toolsets (defaults, advertised scopes).",
        description="Refuses defaults under which a new user could call no tool, default toolsets "
        "the factory does not hold, and advertised scopes no tool uses. Exit status 2 if any.",
    )
    check.set_defaults(run=_check)
