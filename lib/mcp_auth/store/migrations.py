"""Migrations: the ordered steps that take a database from one layout (``layout.py``) to the next.

    plan(client, target=None)   the recorded layout, the target and the steps between; writes nothing
    migrate(client, plan)       runs the steps in order, recording each step's layout as it completes

A step ``Migration(version, summary, survey, apply)`` takes layout ``version - 1`` to ``version``:

* ``survey(client)`` reads and says, in lines, what ``apply`` would change (``mcp-auth migrate --dry-run``);
* ``apply(client)`` makes the change and returns how many documents it wrote. It must be idempotent:
  a document already in the new shape is left alone, so a run interrupted part-way is resumed by
  running again, and a second run writes nothing.

``meta/layout`` is written after each step, with a precondition on what was read, so two runs at once
cannot record a layout twice or backwards. The database is never moved to a lower layout.

Adding a step (a release that changes what it stores): append a ``Migration`` with the next version,
raise ``LAYOUT_VERSION``, keep the code reading the previous layout too (instances serve while the
migration runs), and describe it in the CHANGELOG and docs/upgrading.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mcp_auth.errors import McpAuthError, StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.identities import CLAIM_FIELD, IDENTITIES
from mcp_auth.store.layout import RecordedLayout, layout_ref, read_layout, too_new
from mcp_auth.store.users import USERS

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

_RECORD_ATTEMPTS = 3


class MigrationError(McpAuthError):
    """The migration cannot go where it was asked to; the message says why and what to do."""

    status = 409


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    """The layout this step produces (from ``version - 1``)."""
    summary: str
    survey: Callable[[AsyncClient], Awaitable[list[str]]]
    apply: Callable[[AsyncClient], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Plan:
    current: RecordedLayout
    target: int
    steps: tuple[Migration, ...]


@dataclass(frozen=True, slots=True)
class Applied:
    step: Migration
    written: int


# -- the steps --------------------------------------------------------------------------------
async def _survey_identity_links(client: AsyncClient) -> list[str]:
    """Layout 1 (0.2.0): how many records keyed by an email address no sign-in account has claimed yet."""
    from google.api_core import exceptions as gexc

    email_keyed = unclaimed = 0
    try:
        async for snap in client.collection(USERS).select([CLAIM_FIELD]).stream(timeout=60.0):
            if "@" in snap.id:
                email_keyed += 1
                unclaimed += CLAIM_FIELD not in (snap.to_dict() or {})
    except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
        raise StoreUnavailable(f"The database is unavailable ({type(exc).__name__}); retry shortly.") from exc
    lines = [
        f"nothing to rewrite: {IDENTITIES}/{{key}} links and users/{{uid}}.{CLAIM_FIELD} are written at sign-in",
    ]
    if unclaimed:
        lines.append(
            f"{unclaimed} of {email_keyed} user record(s) keyed by an email address wait for their account's "
            "next sign-in to be claimed (or `mcp-auth accounts link`; see docs/authorization-server.md)"
        )
    return lines


async def _apply_identity_links(client: AsyncClient) -> int:
    return 0  # links are made lazily at each account's first sign-in (oauth/signin.py): nothing to rewrite


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        summary="users are upstream accounts (issuer + sub) through identity links; records the layout",
        survey=_survey_identity_links,
        apply=_apply_identity_links,
    ),
)


def check_steps(migrations: Sequence[Migration]) -> int:
    """The last layout of ``migrations``, after checking they number 1, 2, 3, … in order."""
    for expected, step in enumerate(migrations, start=1):
        if step.version != expected:
            raise ValueError(f"migration {step.summary!r} has version {step.version}; expected {expected}")
    return len(migrations)


# -- the runner -------------------------------------------------------------------------------
async def plan(client: AsyncClient, migrations: Sequence[Migration] = MIGRATIONS, *, target: int | None = None) -> Plan:
    """Where the database is and the steps that take it to ``target`` (default: the last layout known)."""
    known = check_steps(migrations)
    if target is not None and not 1 <= target <= known:
        raise MigrationError(f"There is no layout {target} to migrate to: this code knows layouts 1 to {known}.")
    target = known if target is None else target
    current = await read_layout(client)
    if current.version > known:
        raise too_new(current.version, known)
    if target < current.version:
        raise MigrationError(
            f"The database is at layout {current.version}, past {target}: migrations never move a layout back."
        )
    return Plan(current, target, tuple(m for m in migrations if current.version < m.version <= target))


async def migrate(
    client: AsyncClient, to_run: Plan, *, before_step: Callable[[Migration], Awaitable[None]] | None = None
) -> list[Applied]:
    """Apply the plan's steps in order, recording each layout once its step completed."""
    done: list[Applied] = []
    for step in to_run.steps:
        if before_step is not None:
            await before_step(step)
        written = await step.apply(client)
        await record_layout(client, step.version)
        done.append(Applied(step, written))
    return done


async def record_layout(client: AsyncClient, version: int) -> None:
    """Record ``version`` over ``version - 1`` (or over nothing recorded); a layout already at ``version``
    or past it is left alone, so a concurrent run that got there first is not an error."""
    from google.api_core import exceptions as gexc

    ref = layout_ref(client)
    for _ in range(_RECORD_ATTEMPTS):
        current = await read_layout(client)
        if current.version >= version:
            return
        if current.version != version - 1:
            raise MigrationError(
                f"The database's layout moved to {current.version} while this run recorded {version}: "
                "run `mcp-auth migrate` again."
            )
        document = {"version": version, "updated_at": datetime.now(UTC)}
        try:
            if current.recorded:
                option = client.write_option(last_update_time=current.update_time)
                await ref.update(document, option=option, timeout=TIMEOUT)
            else:
                await ref.create(document, timeout=TIMEOUT, retry=bounded_retry())
            return
        except (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.Aborted, gexc.NotFound):
            continue  # another run wrote it in between: read again
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise StoreUnavailable(f"The database is unavailable ({type(exc).__name__}); retry shortly.") from exc
    raise MigrationError("meta/layout kept changing while this run recorded it: run `mcp-auth migrate` again.")
