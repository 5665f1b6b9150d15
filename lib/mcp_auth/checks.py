"""``configuration_problems``: what in a deployment's settings contradicts its toolsets.

    - a default toolset (``MCP_AUTH_DEFAULT_TOOLSETS``) the factory does not hold;
    - defaults under which a new user could call no tool: the default toolsets hold no tool that the
      default scopes (``MCP_AUTH_DEFAULT_SCOPES``) allow;
    - an advertised scope (``MCP_AUTH_SCOPES_SUPPORTED``) no tool, resource or prompt uses.

``mcp-auth check`` prints them and exits 2 when there are any; the function logs each as a warning
at start. The scopes a deployment advertises are derived from its toolsets, so the last case is an
addition that grants nothing.
"""

from __future__ import annotations

from mcp_auth.config import Settings
from mcp_auth.toolsets import ToolsetFactory, required_scopes


def configuration_problems(settings: Settings, factory: ToolsetFactory) -> list[str]:
    """Each problem as one sentence saying what is wrong and what to change."""
    problems: list[str] = []
    known = factory.toolsets
    unknown = sorted(set(settings.default_toolsets) - set(known))
    if unknown:
        problems.append(
            f"MCP_AUTH_DEFAULT_TOOLSETS names {', '.join(unknown)}, which the factory does not hold "
            f"(known: {', '.join(sorted(known)) or 'none'})."
        )
    defaults = [known[name] for name in settings.default_toolsets if name in known]
    granted = frozenset(settings.default_scopes)
    if defaults and not any(required_scopes(t.meta) <= granted for toolset in defaults for t in toolset.tools):
        needed = sorted(frozenset().union(*(required_scopes(t.meta) for ts in defaults for t in ts.tools)))
        problems.append(
            f"A user created with the defaults (toolsets {', '.join(settings.default_toolsets)}; scopes "
            f"{', '.join(sorted(granted)) or 'none'}) could call none of its tools: add the scopes they need "
            f"({', '.join(needed)}) to MCP_AUTH_DEFAULT_SCOPES."
        )
    unused = sorted(set(settings.scopes_supported) - factory.scopes)
    if unused:
        problems.append(
            f"MCP_AUTH_SCOPES_SUPPORTED advertises {', '.join(unused)}, which no tool, resource or prompt "
            "uses: remove it (the toolsets' own scopes are advertised without it)."
        )
    return problems
