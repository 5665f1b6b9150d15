"""Is a deployment answering as it should? The checks behind ``mcp-auth smoke``.

    metadata              GET the protected-resource metadata (RFC 9728): it names this URL
    authorization-server  GET the metadata of each authorization server it advertises (RFC 8414 or OIDC)
    challenge             an unauthenticated POST gets 401 with ``WWW-Authenticate: Bearer resource_metadata=…``
    healthz               GET /healthz answers 200
    with a token:
    handshake             initialize and tools/list on 2025-11-25
    tools                 server/discover and tools/list on 2026-07-28; the list is not empty
    call                  calls a read-only tool (annotation ``readOnlyHint``, or the one named)

``--skip STEP`` leaves a check out: ``authorization-server`` where tokens are minted by the
team (HS256 service tokens), where no authorization server is advertised.

Standard library only, and nothing from the framework: the deploy build runs this file with
the bare ``python3`` of its image (``python3 lib/mcp_auth/smoke.py URL``), which has none of
the framework's dependencies. Every request has a timeout, follows no redirect and reads at
most ``MAX_BODY`` bytes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
MAX_BODY = 1 << 20
ACCEPT = "application/json, text/event-stream"
CLIENT = {"name": "mcp-auth-smoke", "version": "1"}
SKIPPABLE = ("metadata", "authorization-server", "challenge", "healthz", "handshake", "tools", "call")


class SmokeUsageError(ValueError):
    """The URL or an option cannot be used; the message says what to fix."""


class StepFailed(Exception):
    """One check failed; the message says what was found and what to fix."""


@dataclass(frozen=True, slots=True)
class Verdict:
    step: str
    status: str  # "ok", "FAIL" or "skip"
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.step:<20}  {self.detail}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, what: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise StepFailed(f"{what} is not JSON ({self.describe()})") from None

    def describe(self) -> str:
        kind = self.headers.get("content-type", "no content type")
        return f"status {self.status}, {kind}, {len(self.body)} bytes"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as the answer


_OPENER = urllib.request.build_opener(_NoRedirect)


def validate_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SmokeUsageError(f"{url!r} is not an http(s) URL: pass the MCP endpoint, e.g. https://host/mcp.")
    if parts.query or parts.fragment:
        raise SmokeUsageError(
            f"{url!r} has a query or fragment: pass the MCP endpoint as the server's metadata names it."
        )
    return url


def metadata_url(url: str) -> str:
    """RFC 9728 §3.1: the well-known path inserted before the resource's path."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"


def authorization_server_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 (path inserted), then OpenID Connect Discovery (path appended)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


_PARAM = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)=("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def challenge_params(header: str) -> dict[str, str] | None:
    """The auth-params of a ``Bearer`` challenge, or None if the header is not one."""
    if not header.lower().startswith("bearer"):
        return None
    rest, params = header[len("Bearer") :].strip(), {}
    while rest:
        match = _PARAM.match(rest)
        if match is None:
            return None
        key, value = match.groups()
        params[key.lower()] = re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
        rest = rest[match.end() :]
    return params


def rpc_messages(answer: Answer) -> Iterator[dict[str, Any]]:
    """The JSON-RPC messages of an answer, JSON or an event stream."""
    if answer.headers.get("content-type", "").startswith("text/event-stream"):
        for line in answer.body.decode(errors="replace").splitlines():
            if line.startswith("data:") and line[5:].strip():
                try:
                    message = json.loads(line[5:])
                except ValueError:
                    raise StepFailed(f"an event of the stream is not JSON: {line[:200]!r}") from None
                if isinstance(message, dict):
                    yield message
        return
    message = answer.json("the answer")
    if isinstance(message, dict):
        yield message


@dataclass
class Smoke:
    url: str
    token: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    timeout: float = 20.0
    verdicts: list[Verdict] = field(default_factory=list)
    _metadata_url: str = ""
    _tools: list[dict[str, Any]] = field(default_factory=list)
    skip: frozenset[str] = frozenset()
    _servers: list[str] = field(default_factory=list)

    # -- HTTP ------------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: Any = None) -> Answer:
        if urlsplit(url).scheme not in ("http", "https"):  # authorization servers come from the answers
            raise StepFailed(f"{url!r} is not an http(s) URL")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)  # noqa: S310
        try:
            try:
                response = _OPENER.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                response = exc
            with response:
                content = response.read(MAX_BODY + 1)
                status, answered = response.status or 0, response.headers
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StepFailed(
                f"{method} {url} got no answer ({reason}): check the URL, and that it is deployed"
            ) from None
        if len(content) > MAX_BODY:
            raise StepFailed(f"{method} {url} answered more than {MAX_BODY} bytes: not an MCP server's answer")
        headers_ = {k.lower(): v for k, v in answered.items()}
        if 300 <= status < 400:
            where = headers_.get("location", "nowhere")
            raise StepFailed(f"{method} {url} redirects ({status}) to {where}: pass the URL it redirects to")
        return Answer(status, headers_, content)

    def post_rpc(
        self, method: str, params: dict[str, Any], *, protocol: str, extra: Mapping[str, str] | None = None
    ) -> tuple[Answer, dict[str, Any] | None]:
        headers = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": protocol}
        if protocol == MODERN:
            params = {
                **params,
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "io.modelcontextprotocol/clientInfo": CLIENT,
                },
            }
            headers["Mcp-Method"] = method
            if isinstance(params.get("name"), str):
                headers["Mcp-Name"] = params["name"]
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        headers |= dict(extra or {})
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        answer = self.request("POST", self.url, headers=headers, body=body)
        if answer.status != 200:
            return answer, None
        reply = next((m for m in rpc_messages(answer) if m.get("id") == 1), None)
        return answer, reply

    def refused(self, answer: Answer, what: str) -> StepFailed:
        params = challenge_params(answer.headers.get("www-authenticate", "")) or {}
        if answer.status == 401:
            reason = params.get("error_description") or params.get("error") or "no reason given"
            return StepFailed(f"{what}: the token is refused (401: {reason}); mint or fetch a fresh one for this URL")
        if answer.status == 403:
            reason = (
                params.get("error_description") or params.get("error") or answer.body[:200].decode(errors="replace")
            )
            return StepFailed(f"{what}: forbidden (403: {reason}); check the user's status, scopes and toolsets")
        return StepFailed(f"{what}: {answer.describe()}: {answer.body[:200].decode(errors='replace')!r}")

    # -- the checks ------------------------------------------------------------------------------

    def check_metadata(self) -> str:
        url = metadata_url(self.url)
        answer = self.request("GET", url)
        if answer.status != 200:
            raise StepFailed(
                f"GET {url}: {answer.describe()}; the URL must be the MCP endpoint (…/mcp) and "
                "MCP_AUTH_RESOURCE_URL must be that URL"
            )
        doc = answer.json(f"GET {url}")
        if not isinstance(doc, dict):
            raise StepFailed(f"GET {url} is not a JSON object")
        if doc.get("resource") != self.url:
            raise StepFailed(
                f"the metadata names resource {doc.get('resource')!r}, not {self.url!r}: clients refuse it; "
                "set MCP_AUTH_RESOURCE_URL to the URL clients use (or smoke that URL)"
            )
        self._metadata_url = url
        servers = doc.get("authorization_servers")
        self._servers = [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
        return f"{url} names this resource; {len(self._servers)} authorization server(s)"

    def check_authorization_servers(self) -> str:
        if not self._servers:
            raise StepFailed(
                "the metadata advertises no authorization server: clients cannot sign in; set "
                "MCP_AUTH_AUTHORIZATION_SERVERS (or MCP_AUTH_JWT_ISSUER with the jwt provider)"
            )
        found = []
        for issuer in self._servers:
            problems = []
            for url in authorization_server_urls(issuer):
                try:
                    answer = self.request("GET", url)
                except StepFailed as exc:
                    problems.append(str(exc))
                    continue
                if answer.status != 200:
                    problems.append(f"GET {url}: status {answer.status}")
                    continue
                doc = answer.json(f"GET {url}")
                if not isinstance(doc, dict) or str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
                    got = doc.get("issuer") if isinstance(doc, dict) else doc
                    problems.append(f"GET {url} names issuer {got!r}, not {issuer!r}")
                    continue
                found.append(url)
                break
            else:
                raise StepFailed(
                    f"authorization server {issuer} serves no metadata ({'; '.join(problems)}): "
                    "fix MCP_AUTH_AUTHORIZATION_SERVERS / MCP_AUTH_JWT_ISSUER, or the server"
                )
        return ", ".join(found)

    def check_challenge(self) -> str:
        token, self.token = self.token, None
        try:
            answer, _ = self.post_rpc("tools/list", {}, protocol=MODERN)
        finally:
            self.token = token
        if answer.status != 401:
            raise StepFailed(
                f"an unauthenticated POST got {answer.describe()}, not 401: is this the MCP endpoint, "
                "and is an authentication provider configured (MCP_AUTH_PROVIDERS)?"
            )
        header = answer.headers.get("www-authenticate", "")
        params = challenge_params(header)
        if params is None or "resource_metadata" not in params:
            raise StepFailed(
                f"the 401 has no Bearer challenge with resource_metadata ({header!r}): clients cannot discover sign-in"
            )
        if self._metadata_url and params["resource_metadata"] != self._metadata_url:
            raise StepFailed(
                f"the challenge points to {params['resource_metadata']}, the metadata is at {self._metadata_url}: "
                "set MCP_AUTH_RESOURCE_URL to the URL clients use"
            )
        return f"401, resource_metadata={params['resource_metadata']}"

    def check_healthz(self) -> str:
        parts = urlsplit(self.url)
        url = f"{parts.scheme}://{parts.netloc}/healthz"
        answer = self.request("GET", url)
        if answer.status != 200:
            raise StepFailed(f"GET {url}: {answer.describe()}; the instance is not healthy (see its logs)")
        return url

    def check_handshake(self) -> str:
        params = {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": CLIENT}
        answer, reply = self.post_rpc("initialize", params, protocol=HANDSHAKE)
        result = self._result(answer, reply, f"initialize ({HANDSHAKE})")
        version = result.get("protocolVersion")
        if version != HANDSHAKE:
            raise StepFailed(f"initialize answered protocol version {version!r}, not {HANDSHAKE}")
        session = answer.headers.get("mcp-session-id")
        extra = {"Mcp-Session-Id": session} if session else None
        answer, reply = self.post_rpc("tools/list", {}, protocol=HANDSHAKE, extra=extra)
        tools = self._tool_list(self._result(answer, reply, f"tools/list ({HANDSHAKE})"))
        name = result.get("serverInfo", {}).get("name", "?") if isinstance(result.get("serverInfo"), dict) else "?"
        return f"server {name!r}, {len(tools)} tool(s)"

    def check_tools(self) -> str:
        answer, reply = self.post_rpc("server/discover", {}, protocol=MODERN)
        self._result(answer, reply, f"server/discover ({MODERN})")
        answer, reply = self.post_rpc("tools/list", {}, protocol=MODERN)
        self._tools = self._tool_list(self._result(answer, reply, f"tools/list ({MODERN})"))
        if not self._tools:
            raise StepFailed(
                "tools/list is empty for this token: give the user toolsets and scopes "
                "(mcp-auth users toolsets U --add …; mcp-auth users grant U --scopes …)"
            )
        return f"{len(self._tools)} tool(s): {', '.join(sorted(str(t.get('name')) for t in self._tools))}"

    def check_call(self) -> str:
        names = sorted(str(t.get("name")) for t in self._tools)
        if self.tool is not None:
            if self.tool not in names:
                raise StepFailed(f"no tool {self.tool!r} in tools/list (this token sees: {', '.join(names)})")
            name = self.tool
        else:
            read_only = [
                str(t.get("name"))
                for t in self._tools
                if isinstance(t.get("annotations"), dict) and t["annotations"].get("readOnlyHint") is True
            ]
            if not read_only:
                raise StepFailed(
                    "no listed tool is annotated readOnlyHint: annotate one, or name one with --tool "
                    f"(this token sees: {', '.join(names)})"
                )
            name = read_only[0]
        answer, reply = self.post_rpc("tools/call", {"name": name, "arguments": self.arguments}, protocol=MODERN)
        result = self._result(answer, reply, f"tools/call {name}")
        if result.get("isError"):
            text = " ".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
            raise StepFailed(f"tools/call {name} returned an error: {text[:300]!r}")
        return f"tools/call {name}"

    def _result(self, answer: Answer, reply: dict[str, Any] | None, what: str) -> dict[str, Any]:
        if answer.status != 200:
            raise self.refused(answer, what)
        if reply is None:
            raise StepFailed(f"{what}: no JSON-RPC answer in the response ({answer.describe()})")
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise StepFailed(f"{what}: JSON-RPC error {error.get('code')}: {error.get('message')!r}")
        result = reply.get("result")
        if not isinstance(result, dict):
            raise StepFailed(f"{what}: the answer has no result object")
        return result

    @staticmethod
    def _tool_list(result: dict[str, Any]) -> list[dict[str, Any]]:
        tools = result.get("tools")
        if not isinstance(tools, list):
            raise StepFailed("tools/list answered without a tools array")
        return [t for t in tools if isinstance(t, dict)]

    # -- running ---------------------------------------------------------------------------------

    def steps(self) -> list[tuple[str, Callable[[], str], bool]]:
        """(name, check, needs the step before it to have passed)."""
        needs_token = self.token is not None
        return [
            ("metadata", self.check_metadata, False),
            ("authorization-server", self.check_authorization_servers, True),
            ("challenge", self.check_challenge, False),
            ("healthz", self.check_healthz, False),
            *([("handshake", self.check_handshake, False)] if needs_token else []),
            *([("tools", self.check_tools, False)] if needs_token else []),
            *([("call", self.check_call, True)] if needs_token else []),
        ]

    def run(self, report: Callable[[Verdict], None] = lambda verdict: None) -> list[Verdict]:
        passed = True
        for name, check, needs_previous in self.steps():
            if name in self.skip:
                verdict = Verdict(name, "skip", "--skip")
            elif needs_previous and not passed:
                verdict = Verdict(name, "skip", "the step before it did not pass")
            else:
                try:
                    verdict = Verdict(name, "ok", check())
                except StepFailed as exc:
                    verdict = Verdict(name, "FAIL", str(exc))
            passed = verdict.status == "ok"
            self.verdicts.append(verdict)
            report(verdict)
        if self.token is None:
            verdict = Verdict("tools", "skip", "no --token: tools/list and a tool call not checked")
            self.verdicts.append(verdict)
            report(verdict)
        return self.verdicts

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "FAIL"]


def parse_arguments(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise SmokeUsageError(f"--arguments takes a JSON object, got {value[:100]!r}") from None
    if not isinstance(parsed, dict):
        raise SmokeUsageError(f"--arguments takes a JSON object, got {type(parsed).__name__}")
    return parsed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="The MCP endpoint, as clients use it (https://…/mcp).")
    parser.add_argument("--token", help="An access token: also list tools on both protocol generations and call one.")
    parser.add_argument("--tool", help="The tool to call (default: the first annotated readOnlyHint).")
    parser.add_argument("--arguments", default="{}", help="The tool's arguments, a JSON object (default: {}).")
    parser.add_argument(
        "--skip",
        action="append",
        choices=SKIPPABLE,
        default=[],
        help="A check to leave out, e.g. authorization-server when tokens are minted, not signed in for.",
    )
    parser.add_argument("--timeout", type=float, default=20.0, help="Seconds to wait for each answer (default 20).")


def smoke_from(args: argparse.Namespace) -> Smoke:
    if not 0 < args.timeout <= 300:
        raise SmokeUsageError(f"--timeout must be between 0 and 300 seconds, got {args.timeout}")
    token = args.token.strip() if args.token is not None else None
    if token is not None and (not token or any(c.isspace() for c in token)):
        raise SmokeUsageError("--token is empty or has whitespace in it: pass the token alone")
    return Smoke(
        validate_url(args.url),
        token=token,
        tool=args.tool,
        arguments=parse_arguments(args.arguments),
        timeout=args.timeout,
        skip=frozenset(args.skip),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run as a file: exit status 0 when every check passed, 1 when one failed, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="smoke", description="Check a deployed MCP endpoint.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        smoke = smoke_from(args)
    except SmokeUsageError as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return 2
    smoke.run(lambda verdict: print(verdict.line(), flush=True))
    if smoke.failed:
        print(f"smoke: {len(smoke.failed)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
