"""The team's toolsets. A user record's ``toolsets`` field names which ones a user gets.

Each toolset is built once, at import: assembling a user's server then only selects
from them (registering tools with decorators per request costs about a millisecond per tool).
"""

from __future__ import annotations

from toolsets import basics, github, notes, profile

TOOLSETS = (basics.TOOLSET, github.TOOLSET, notes.TOOLSET, profile.TOOLSET)
