"""Toolsets: what a team hands the framework.

    NOTES = Toolset(
        "notes",
        tools=[tool(create_note, scopes=["notes:write"], strict=True), ...],
        resources=[resource(note, "note://{id}", scopes=["notes:read"], mime_type="application/json")],
        prompts=[prompt(summarize_notes, scopes=["notes:read"])],
    )
    FACTORY = ToolsetFactory([BASICS, NOTES, ...])     # each user gets the toolsets their record names

A toolset is built once, at import; a user's server is assembled from the toolsets their record
selects (``servers.py``), so nothing is registered per request. Every handler a toolset holds is
wrapped once here so that a framework error it raises (``NotFound``, ``Conflict``,
``StoreUnavailable``, ``CredentialNotConnected``, …) reaches the client as the MCP error of its
kind (a tool error, a resource error, a prompt error) with the message that says what to do;
scopes are declared beside each handler and enforced by the framework, for resources and
prompts exactly as for tools.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.tools.base import Tool
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from mcp_auth.errors import ConfigError, McpAuthError, UpstreamError

if TYPE_CHECKING:
    from mcp_auth.store.users import UserRecord

logger = logging.getLogger("mcp_auth.toolsets")

SCOPES_META_KEY = "mcp-auth/requiredScopes"
"""Where a tool's required scopes travel in its ``_meta`` (clients can see them)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
Kind = Literal["tool", "resource", "prompt"]


# -- errors: one translation for every handler ---------------------------------------------
def mcp_error(exc: McpAuthError, kind: Kind) -> Exception:
    """The MCP error a framework error raised by a ``kind`` handler becomes."""
    message = f"Temporarily unavailable, retryable: {exc.message}" if isinstance(exc, UpstreamError) else exc.message
    if kind == "tool":
        return ToolError(message)
    if kind == "resource":
        return ResourceNotFoundError(message) if exc.status == 404 else ResourceError(message)
    return MCPError(code=INTERNAL_ERROR if exc.status >= 500 else INVALID_PARAMS, message=message)


def translating(fn: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    """``fn`` with framework errors turned into ``kind``'s MCP error; signature and annotations kept
    (the SDK reads them through ``__wrapped__``)."""
    if getattr(fn, "__mcp_auth_kind__", None) == kind:
        return fn
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def translated_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except McpAuthError as exc:
                raise mcp_error(exc, kind) from exc

        wrapper: Callable[..., Any] = translated_async
    else:

        @functools.wraps(fn)
        def translated(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except McpAuthError as exc:
                raise mcp_error(exc, kind) from exc

        wrapper = translated
    wrapper.__mcp_auth_kind__ = kind  # type: ignore[attr-defined]
    return wrapper


# -- the three kinds of handler --------------------------------------------------------------
def _scopes(scopes: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(scopes, str):
        raise ConfigError(f"{what}: scopes must be a list of scope names, not the string {scopes!r}.")
    values = frozenset(scopes)
    for scope in values:
        if not isinstance(scope, str) or not scope or any(c.isspace() or c in '"\\' for c in scope):
            raise ConfigError(f"{what}: {scope!r} is not a scope name (no spaces, quotes or backslashes).")
    return values


def tool(fn: Callable[..., Any], *, scopes: Iterable[str] = (), strict: bool = False, **kwargs: Any) -> Tool:
    """A prebuilt ``Tool`` that needs ``scopes`` to be listed and called.

    ``strict=True`` rejects unknown argument names (a misspelt ``tittle`` is an error, not
    silently dropped) and says so in the published input schema. Other keyword arguments go to
    ``Tool.from_function`` (``name``, ``description``, ``structured_output``, …).
    """
    from mcp_auth._sdk import forbid_extra_arguments

    required = sorted(_scopes(scopes, f"tool {getattr(fn, '__name__', fn)!r}"))
    meta = dict(kwargs.pop("meta", None) or {})
    if required:
        meta[SCOPES_META_KEY] = required
    built = Tool.from_function(translating(fn, "tool"), meta=meta or None, **kwargs)
    return forbid_extra_arguments(built) if strict else built


def required_scopes(meta: Mapping[str, Any] | None) -> frozenset[str]:
    """The scopes a tool's ``_meta`` says it needs."""
    value = (meta or {}).get(SCOPES_META_KEY) or ()
    return frozenset(v for v in value if isinstance(v, str))


@dataclass(frozen=True, slots=True)
class ToolsetResource:
    """A resource (static URI) or resource template (``{…}`` in the URI) and the scopes it needs."""

    uri: str
    fn: Callable[..., Any] = field(repr=False)
    scopes: frozenset[str] = frozenset()
    name: str | None = None
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None

    @property
    def is_template(self) -> bool:
        return bool(UriTemplate.parse(self.uri).variable_names)

    def matches(self, uri: str) -> bool:
        if not self.is_template:
            return uri == self.uri
        return UriTemplate.parse(self.uri).match(uri) is not None


def resource(
    fn: Callable[..., Any],
    uri: str,
    *,
    scopes: Iterable[str] = (),
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
) -> ToolsetResource:
    """A resource read by ``fn``; ``uri`` with ``{variables}`` makes it a template whose variables are
    ``fn``'s parameters."""
    try:
        UriTemplate.parse(uri)
    except ValueError as exc:
        raise ConfigError(f"resource {uri!r}: not a valid URI template ({exc}).") from None
    return ToolsetResource(
        uri=uri,
        fn=translating(fn, "resource"),
        scopes=_scopes(scopes, f"resource {uri!r}"),
        name=name,
        title=title,
        description=description or inspect.getdoc(fn),
        mime_type=mime_type,
    )


@dataclass(frozen=True, slots=True)
class ToolsetPrompt:
    """A prebuilt ``Prompt`` and the scopes it needs."""

    prompt: Prompt
    scopes: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.prompt.name


def prompt(
    fn: Callable[..., Any],
    *,
    scopes: Iterable[str] = (),
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> ToolsetPrompt:
    """A prompt rendered by ``fn`` that needs ``scopes`` to be listed and rendered."""
    built = Prompt.from_function(translating(fn, "prompt"), name=name, title=title, description=description)
    return ToolsetPrompt(prompt=built, scopes=_scopes(scopes, f"prompt {built.name!r}"))


# -- toolsets and the factory that selects them -------------------------------------------
@dataclass(frozen=True)
class Toolset:
    """A named group of tools, resources and prompts that a user record enables as a whole."""

    name: str
    tools: Sequence[Tool] = ()
    resources: Sequence[ToolsetResource] = ()
    prompts: Sequence[ToolsetPrompt] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(f"Toolset name {self.name!r}: use 1-64 lower-case letters, digits, '-' and '_'.")
        for attribute, kind, label in (
            ("tools", Tool, "tool(...)"),
            ("resources", ToolsetResource, "resource(...)"),
            ("prompts", ToolsetPrompt, "prompt(...)"),
        ):
            items = tuple(getattr(self, attribute))
            wrong = [type(item).__name__ for item in items if not isinstance(item, kind)]
            if wrong:
                raise ConfigError(f"Toolset {self.name!r}: {attribute} must be built with {label}, got {wrong[0]}.")
            object.__setattr__(self, attribute, items)
        _unique(self.name, "tool", [t.name for t in self.tools])
        _unique(self.name, "prompt", [p.name for p in self.prompts])
        _unique(self.name, "resource", [r.uri for r in self.resources])

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope any of its tools, resources or prompts needs."""
        needed = [required_scopes(t.meta) for t in self.tools]
        needed += [r.scopes for r in self.resources] + [p.scopes for p in self.prompts]
        return frozenset().union(*needed)


def _unique(toolset: str, kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"Toolset {toolset!r} has two {kind}s named {name!r}.")
        seen.add(name)


Selector = Callable[["UserRecord", Mapping[str, Toolset]], Iterable[Toolset]]


def by_record(record: UserRecord, toolsets: Mapping[str, Toolset]) -> list[Toolset]:
    """The default selection: the toolsets the user's record names (unknown names are ignored)."""
    return [toolsets[name] for name in sorted(record.toolsets) if name in toolsets]


class ToolsetFactory:
    """The team's server factory: every toolset the deployment offers, and which ones a user gets.

    ``select(record, toolsets)`` returns the user's toolsets (default: those their record names).
    The framework assembles the user's MCP server from them; the factory only selects. ``extensions``
    (MCP server extensions such as ``TasksExtension``) are given to every user's server.
    """

    def __init__(
        self,
        toolsets: Iterable[Toolset],
        *,
        select: Selector = by_record,
        server_name: str = "mcp-auth-server",
        instructions: str | None = None,
        extensions: Sequence[Any] = (),
    ) -> None:
        registry: dict[str, Toolset] = {}
        for toolset in toolsets:
            if not isinstance(toolset, Toolset):
                raise ConfigError(f"ToolsetFactory takes Toolset objects, got {type(toolset).__name__}.")
            if toolset.name in registry:
                raise ConfigError(f"Two toolsets are named {toolset.name!r}.")
            registry[toolset.name] = toolset
        owners: dict[str, str] = {}
        for toolset in registry.values():
            for built in toolset.tools:
                if owners.setdefault(built.name, toolset.name) != toolset.name:
                    raise ConfigError(
                        f"The tool {built.name!r} is in both {owners[built.name]!r} and "
                        f"{toolset.name!r}: a user with both would see one of them."
                    )
        self.toolsets: Mapping[str, Toolset] = registry
        self.server_name = server_name
        self.instructions = instructions
        self.extensions = tuple(extensions)
        """MCP extensions every user's server gets (e.g. ``TasksExtension``, docs/tasks.md)."""
        self._select = select

    def select(self, record: UserRecord) -> tuple[Toolset, ...]:
        chosen = tuple(self._select(record, self.toolsets))
        for toolset in chosen:
            if self.toolsets.get(toolset.name) is not toolset:
                raise ConfigError(f"The selection returned a toolset {toolset.name!r} the factory does not hold.")
        return chosen

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope some toolset uses: what the deployment advertises."""
        return frozenset().union(*(t.scopes for t in self.toolsets.values()))


def load_factory(target: str) -> ToolsetFactory:
    """The factory named ``module:attribute`` (``MCP_AUTH_FACTORY``), imported by name like
    functions-framework's target: the module must be importable (for the command line, run where
    the functions source is on the path, e.g. ``PYTHONPATH=functions``)."""
    import importlib

    module_name, _, attribute = (target or "").partition(":")
    if not module_name or not attribute or not all(p.isidentifier() for p in (*module_name.split("."), attribute)):
        raise ConfigError(f"MCP_AUTH_FACTORY must be module:attribute (e.g. factory:FACTORY), got {target!r}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"MCP_AUTH_FACTORY names {target!r}, but {module_name!r} cannot be imported ({exc}). Put your functions "
            "source on the path (PYTHONPATH=functions) or point MCP_AUTH_FACTORY at your factory."
        ) from None
    factory = getattr(module, attribute, None)
    if not isinstance(factory, ToolsetFactory):
        found = "nothing" if factory is None else f"a {type(factory).__name__}"
        raise ConfigError(f"MCP_AUTH_FACTORY names {target!r}, which is {found}, not a ToolsetFactory.")
    return factory
