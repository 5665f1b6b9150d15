"""How one setting is declared: its environment name, type, default, range and description, in one place.

    tool_timeout: int = setting("MCP_AUTH_TOOL_TIMEOUT", 60, low=1, high=3600,
                                doc="Seconds a tool call may run before it is cancelled and the client told why.")

``Settings`` (``config.py``) is a dataclass of such fields. Everything else derives from them:
``from_env`` parses each from the environment (``parse``), ``__post_init__`` checks each however the
object was built (``check``), the list of names Terraform must set, and ``docs/settings.md``
(``markdown``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError

Kind = Literal["str", "int", "bool", "list", "url", "urls", "choice", "present", "json"]
MAX_JSON_CHARS = 65_536
REQUIRED: Any = dataclasses.MISSING


@dataclass(frozen=True)
class Spec:
    env: str
    doc: str
    kind: Kind = "str"
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    meaning: str = ""
    """For a choice: one sentence on what the choices do, repeated in the error."""
    shown_default: str | None = None
    """How the default reads in the docs when it is not a plain value (``the resource URL``)."""


def setting(
    env: str,
    default: Any = REQUIRED,
    *,
    doc: str,
    kind: Kind | None = None,
    low: int | None = None,
    high: int | None = None,
    choices: tuple[str, ...] = (),
    meaning: str = "",
    secret: bool = False,
    shown_default: str | None = None,
) -> Any:
    """A ``Settings`` field read from ``env``; ``secret=True`` keeps its value out of ``repr``."""
    if kind is None:
        kind = (
            "bool"
            if isinstance(default, bool)
            else "int"
            if isinstance(default, int)
            else ("list" if isinstance(default, tuple) else "choice" if choices else "str")
        )
    spec = Spec(
        env=env, doc=doc, kind=kind, low=low, high=high, choices=choices, meaning=meaning, shown_default=shown_default
    )
    return dataclasses.field(default=default, repr=not secret, metadata={"setting": spec})


def specs(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Spec]]:
    for f in dataclasses.fields(cls):
        if "setting" in f.metadata:
            yield f, f.metadata["setting"]


def parse(spec: Spec, raw: str) -> Any:
    """The value of ``raw`` (an environment variable's text) for ``spec``; ``ConfigError`` naming it otherwise."""
    name = spec.env
    if spec.kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw[:40]!r}.") from None
    if spec.kind == "bool":
        value = raw.strip().lower()
        if value in ("", "false", "0", "no"):
            return False
        if value in ("true", "1", "yes"):
            return True
        raise ConfigError(f"{name} must be true or false, got {value[:40]!r}.")
    if spec.kind == "list":
        return split(raw)
    if spec.kind == "url":
        return url(name, raw)
    if spec.kind == "urls":
        return tuple(url(name, item) for item in split(raw))
    if spec.kind == "choice":
        value = raw.strip()
        return value.upper() if spec.choices and spec.choices[0].isupper() else value.lower()
    if spec.kind == "present":
        return bool(raw)
    if spec.kind == "json":
        if len(raw) > MAX_JSON_CHARS:
            raise ConfigError(f"{name} is longer than {MAX_JSON_CHARS} characters.")
        try:
            return json.loads(raw)
        except ValueError:
            raise ConfigError(f"{name} must be JSON, got {raw[:40]!r}.") from None
    return raw


def check(spec: Spec, value: Any) -> None:
    """The range or choices of ``spec``, whatever built the value."""
    name = spec.env
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, got {value!r}.")
        low = spec.low if spec.low is not None else value
        high = spec.high if spec.high is not None else value
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {spec.low} and {spec.high}, got {value}.")
    elif spec.kind == "choice" and value not in spec.choices:
        shown = value[:40] if isinstance(value, str) else value
        raise ConfigError(
            f"{name} must be one of {', '.join(spec.choices)}, got {shown!r}"
            + (f": {spec.meaning}" if spec.meaning else ".")
        )


def split(value: str | None) -> tuple[str, ...]:
    """A comma-separated list, items stripped, empty items dropped."""
    if not value:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


def url(name: str, raw: str) -> str:
    """An absolute http(s) URL without query or fragment, without a trailing slash."""
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {raw!r}.")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name} must not have a query or fragment, got {raw!r}.")
    return raw.rstrip("/") if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"


def markdown(cls: type, external: dict[str, str]) -> str:
    """The settings reference (``docs/settings.md``): one row per setting, from the declarations."""
    rows = ["| setting | default | accepted | what it does |", "|---|---|---|---|"]
    for f, spec in specs(cls):
        rows.append(f"| `{spec.env}` | {_shown_default(f, spec)} | {_accepted(spec)} | {spec.doc} |")
    rows += [f"| `{name}` | | | {doc} |" for name, doc in external.items()]
    return "\n".join(
        [
            "# Settings",
            "",
            "Generated from `lib/mcp_auth/config.py` (`make settings-doc`); "
            "a test fails when this file is out of date.",
            "Every setting is an environment variable; Terraform sets them from the tfvars (`terraform/`). A setting",
            "that does not parse, or is out of range, stops the start with a message naming it.",
            "",
            *rows,
            "",
        ]
    )


def _shown_default(f: dataclasses.Field[Any], spec: Spec) -> str:
    if spec.shown_default is not None:
        return spec.shown_default
    if f.default is dataclasses.MISSING:
        return "required"
    if f.default in (None, (), "") or spec.kind == "present":
        return "none"
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if isinstance(f.default, tuple):
        return f"`{','.join(f.default)}`"
    return f"`{f.default}`"


def _accepted(spec: Spec) -> str:
    return {
        "int": f"{spec.low}-{spec.high}" if spec.low is not None else "a whole number",
        "bool": "true, false",
        "list": "comma-separated",
        "url": "http(s) URL",
        "urls": "comma-separated http(s) URLs",
        "choice": ", ".join(spec.choices),
        "present": "any value",
        "json": "JSON",
        "str": "text",
    }[spec.kind]
