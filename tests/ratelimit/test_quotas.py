"""Per-user overrides live in ``users/{uid}.quotas`` and reach the limiter through ``UserRecord``."""

import uuid

from mcp_auth.ratelimit import Rate, RateLimits
from mcp_auth.store.users import UserRecord, UserRepository


async def test_quotas_round_trip_through_the_user_record(user_repo: UserRepository) -> None:
    uid = f"quota-{uuid.uuid4().hex[:12]}"
    await user_repo.create(UserRecord(uid=uid, quotas={"user": "50/hour", "tool:echo": "off"}))
    record = await user_repo.get(uid)
    assert record is not None and dict(record.quotas) == {"user": "50/hour", "tool:echo": "off"}
    limits = RateLimits.from_strings(user="600/minute", tool="120/minute")
    assert limits.for_user("user", record.quotas) == Rate(50, 3600)
    assert limits.for_user("tool", record.quotas, tool="echo") is None
    assert limits.for_user("tool", record.quotas, tool="whoami") == Rate(120, 60)


async def test_records_without_quotas_store_no_quotas_field_and_ignore_malformed_ones(
    user_repo: UserRepository,
) -> None:
    uid = f"quota-{uuid.uuid4().hex[:12]}"
    record = await user_repo.create(UserRecord(uid=uid))
    assert "quotas" not in record.to_document() and not record.quotas
    await user_repo.update(uid, quotas={"user": 5, "tool": "10/minute"})
    updated = await user_repo.get(uid)
    assert updated is not None and dict(updated.quotas) == {"tool": "10/minute"}
