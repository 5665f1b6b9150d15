"""``mcp-auth migrate``: bring the Firestore database to the layout this code writes.

    migrate [--dry-run] [--to N]

Prints the database's recorded layout and the target, then each step with what it changes. With
``--dry-run`` nothing is written. Each step is idempotent and the layout is recorded after each one,
so a run that stopped part-way is finished by running the command again, and a second run changes
nothing. A database migrated by a newer framework is refused: layouts never move back.
"""

from __future__ import annotations

import argparse
from typing import Any

from mcp_auth.cli._common import UsageError, bounded_int
from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError


def _describe(layout: Any) -> str:
    return str(layout.version) if layout.recorded else "0 (none recorded: a new database, or one from 0.1.0)"


async def _migrate(args: argparse.Namespace, settings: Settings) -> str:
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.migrations import MigrationError, migrate, plan

    client = firestore_client(project=settings.project, database=settings.firestore_database)
    try:
        steps = await plan(client, target=args.to)
    except (MigrationError, ConfigError) as exc:  # out of range, backwards, newer or corrupt layout
        raise UsageError(exc.message) from None
    lines = [f"database layout: {_describe(steps.current)}", f"target layout:   {steps.target}"]
    if not steps.steps:
        return "\n".join([*lines, "up to date: nothing to do"])
    for step in steps.steps:
        lines.append(f"step {step.version}: {step.summary}")
        lines += [f"  {line}" for line in await step.survey(client)]
    if args.dry_run:
        lines.append(f"dry run: nothing written; `mcp-auth migrate` would record layout {steps.target}")
        return "\n".join(lines)
    for applied in await migrate(client, steps):
        lines.append(f"step {applied.step.version} applied: {applied.written} document(s) written")
    lines.append(f"recorded layout {steps.target}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("migrate", help="Bring the Firestore database to the layout this code writes.")
    parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")
    parser.add_argument(
        "--to",
        type=bounded_int("--to", 1, 1_000_000),
        default=None,
        help="Stop at this layout version (default: the newest this code knows).",
    )
    parser.set_defaults(run=_migrate)
