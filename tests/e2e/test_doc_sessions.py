"""The shell sessions the README and docs/*.md mark runnable work as printed, against ``make dev``.

A fenced block is run when the line before it is ``<!-- runnable -->``. Like doctest, each ``$ ``
line is a command (continued while it ends in ``\\`` or has a quote open) and the lines after it,
up to the next ``$ ``, are what it prints. The commands of one document run in order in one bash
session (so ``source .dev/env`` and ``TOKEN=$(…)`` carry over from block to block), in a checkout
where ``mcp-auth dev`` runs (``shared_dev_server``: one server and one emulator for every document,
the README first, then docs/*.md by name). Each command gets its stdout and stderr as a terminal
shows them and must exit 0, unless what the document prints for it is an error (``…: error: …``).

Comparing (only where the block shows output):

* ``…`` stands for any text, also across lines (what the document leaves out);
* white space is loose: a run of it matches any run, or none (the document wraps long lines);
* ``127.0.0.1:8080`` is the dev server's address, whatever port the test gave it;
* ``<!-- runnable; varies: Pij1WAPjsilpAlLV -->`` names words that differ on every run (an id):
  each matches where it is first printed and then stands for what it matched, in later output and
  commands alike;
* in a command, ``…`` inside a word stands for what the session printed in its place above
  (``KEY=mak_Pij1WAPjsilpAlLV_…``: the key printed by ``keys create``), as a reader pastes it.

Blocks that need a cloud project (terraform, gcloud) stay unmarked.
"""

from __future__ import annotations

import queue
import re
import secrets
import shlex
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests._fixtures.dev_server import ROOT, DevServer, clean_env

MARKER = re.compile(r"^<!--\s*runnable(?:;\s*varies:\s*(?P<varies>[^>]*?))?\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)")
ERROR_LINE = re.compile(r"^\S+: error: ", re.MULTILINE)
ELLIPSIS = "…"
DOCUMENTED_ADDRESS = "127.0.0.1:8080"
COMMAND_TIMEOUT = 120.0


@dataclass
class Step:
    line: int  # of the "$ " line in the document
    command: str
    expected: str


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence
    varies: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


class SessionFailure(AssertionError):
    pass


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def _complete(command: str) -> bool:
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return False
    return True


def parse_steps(lines: list[str], first_line: int) -> list[Step]:
    """The commands of a block's lines (``first_line`` is the number of the first one) and their output."""
    steps: list[Step] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            if steps:
                steps[-1].expected += lines[i] + "\n"
            elif lines[i].strip():
                raise ValueError(f"line {first_line + i}: output before the first '$ ' command")
            i += 1
            continue
        start, command = i, lines[i][2:]
        while not _complete(command) and i + 1 < len(lines):
            i += 1
            command += "\n" + lines[i]
        if not _complete(command):
            raise ValueError(f"line {first_line + start}: the command never ends (a quote left open?)")
        steps.append(Step(first_line + start, command, ""))
        i += 1
    return steps


def runnable_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i].strip())
        if marker is None:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = FENCE.match(lines[j]) if j < len(lines) else None
        if fence is None:
            raise ValueError(f"{path}:{i + 1}: '<!-- runnable -->' is not followed by a fenced block")
        end = next((k for k in range(j + 1, len(lines)) if lines[k].startswith(fence.group(1))), None)
        if end is None:
            raise ValueError(f"{path}:{j + 1}: the fenced block never closes")
        varies = tuple((marker.group("varies") or "").split())
        blocks.append(Block(path, j + 1, varies, parse_steps(lines[j + 1 : end], j + 2)))
        i = end + 1
    return blocks


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


class Shell:
    """One bash session; ``run`` gives a command's exit status and its output (stdout and stderr)."""

    def __init__(self, cwd: Path) -> None:
        self._sentinel = f"__session_{secrets.token_hex(8)}__"
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._process.stdout is not None
        with self._process.stdout:
            for line in self._process.stdout:
                self._lines.put(line)
        self._lines.put(None)

    def run(self, command: str) -> tuple[int, str]:
        assert self._process.stdin is not None
        # The command reads nothing from the session's own input; the sentinel line carries its status.
        self._process.stdin.write(f"{{ {command}\n}} </dev/null 2>&1; printf '\\n{self._sentinel} %d\\n' $?\n")
        self._process.stdin.flush()
        seen: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=COMMAND_TIMEOUT)
            except queue.Empty:
                raise SessionFailure(
                    f"no end within {COMMAND_TIMEOUT:.0f} s; printed so far:\n{''.join(seen)}"
                ) from None
            if line is None:
                raise SessionFailure(f"the shell exited; printed:\n{''.join(seen)}")
            if line.startswith(self._sentinel):
                output = "".join(seen).removesuffix("\n")  # the newline before the sentinel
                return int(line.split()[1]), output.replace("\r\n", "\n")
            seen.append(line)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class Session:
    """The documented sessions of one document, run in one shell against one dev server."""

    def __init__(self, server: DevServer) -> None:
        self.address = f"127.0.0.1:{server.port}"
        self.shell = Shell(server.checkout)
        self.bound: dict[str, str] = {}
        self.printed: list[str] = []

    def _localise(self, text: str) -> str:
        return text.replace(DOCUMENTED_ADDRESS, self.address)

    def _pattern(self, expected: str, varies: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
        """The regular expression for ``expected``, and its group names for the words first seen in it."""
        unbound = [word for word in varies if word not in self.bound]
        words = sorted([*unbound, *self.bound], key=len, reverse=True)
        token = re.compile(
            "|".join([re.escape(ELLIPSIS), r"\s+", *(re.escape(w) for w in words)]) if words else rf"{ELLIPSIS}|\s+"
        )
        parts, groups, position = [], {}, 0
        for match in token.finditer(expected):
            parts.append(re.escape(expected[position : match.start()]))
            found = match.group()
            if found == ELLIPSIS:
                parts.append(".*?")
            elif found.isspace():
                parts.append(r"\s*")
            elif found in self.bound:
                parts.append(re.escape(self.bound[found]))
            elif found in groups.values():
                name = next(k for k, v in groups.items() if v == found)
                parts.append(f"(?P={name})")
            else:
                name = f"v{len(groups)}"
                groups[name] = found
                parts.append(rf"(?P<{name}>[A-Za-z0-9_.:-]+)")
            position = match.end()
        parts.append(re.escape(expected[position:]))
        return re.compile("".join(parts), re.DOTALL), groups

    def _command(self, step: Step, block: Block) -> str:
        command = self._localise(step.command)
        for word, value in self.bound.items():
            command = command.replace(word, value)
        unresolved = [w for w in block.varies if w not in self.bound and w in command]
        if unresolved:
            raise SessionFailure(f"{_shown(block.path)}:{step.line}: {unresolved} used before any output showed it")

        def paste(word: re.Match[str]) -> str:
            pattern = re.escape(word.group()).replace(re.escape(ELLIPSIS), r"[^\s\"',]+")
            for output in reversed(self.printed):
                found = re.findall(pattern, output)
                if found:
                    return str(found[-1])
            raise SessionFailure(f"{_shown(block.path)}:{step.line}: nothing printed above matches {word.group()!r}")

        return re.sub(rf"[^\s=\"']*{ELLIPSIS}[^\s\"']*", paste, command)

    def run(self, block: Block) -> None:
        for step in block.steps:
            command = self._command(step, block)
            status, output = self.shell.run(command)
            self.printed.append(output)
            expected = self._localise(step.expected).strip()
            where = f"{_shown(block.path)}:{step.line}: $ {step.command.splitlines()[0]}"
            wants_error = bool(ERROR_LINE.search(expected))
            if wants_error != (status != 0):
                raise SessionFailure(
                    f"{where}\nexit status {status}, {'expected an error' if wants_error else 'expected 0'}; "
                    f"it printed:\n{output}"
                )
            if not expected:
                continue
            pattern, groups = self._pattern(expected, block.varies)
            match = pattern.fullmatch(output.strip())
            if match is None:
                raise SessionFailure(f"{where}\nexpected (… any text):\n{expected}\nprinted:\n{output}")
            for name, word in groups.items():
                self.bound[word] = match.group(name)

    def close(self) -> None:
        self.shell.close()


# -- the documents, against the dev server -----------------------------------------------------
def _marked() -> list[Path]:
    return [path for path in documents() if runnable_blocks(path)]


@pytest.mark.parametrize("document", _marked(), ids=lambda p: p.name)
def test_marked_sessions_run_as_printed(document: Path, shared_dev_server: DevServer):
    session = Session(shared_dev_server)
    try:
        for block in runnable_blocks(document):
            session.run(block)
    finally:
        session.close()


def test_the_readme_marks_its_local_run_and_command_line_sessions():
    commands = " ".join(step.command for block in runnable_blocks(ROOT / "README.md") for step in block.steps)
    for shown in ("users create", "token mint", "keys create", "keys revoke", "curl -s", "mcp-auth check"):
        assert shown in commands


def _token_mint_steps() -> Block:
    """The README's first marked session cut to ``source .dev/env`` and its ``token mint``."""
    first = runnable_blocks(ROOT / "README.md")[0]
    kept = [s for s in first.steps if s.command.startswith("source") or "token mint" in s.command]
    assert len(kept) == 2, kept
    return Block(first.path, first.line, first.varies, kept)


def test_a_renamed_flag_fails_the_session(shared_dev_server: DevServer):
    block = _token_mint_steps()
    session = Session(shared_dev_server)
    try:
        session.run(block)  # as printed: passes
        for step in block.steps:
            step.command = step.command.replace("--ttl", "--lifetime")
        with pytest.raises(SessionFailure, match=r"(?s)README\.md:\d+: \$ TOKEN=.*exit status 2.*--lifetime"):
            session.run(block)
    finally:
        session.close()


def test_changed_output_fails_the_session(shared_dev_server: DevServer):
    session = Session(shared_dev_server)
    block = Block(ROOT / "README.md", 1, ("0000",), parse_steps(["$ echo 'id 42 key k_42_abc'", "id 0000 …"], 2))
    try:
        session.run(block)
        assert session.bound == {"0000": "42"}
        block.steps = parse_steps(["$ echo revoked 42", "revoked 0000", "$ echo revoked 43", "revoked 0000"], 2)
        with pytest.raises(SessionFailure, match=r"README\.md:4: \$ echo revoked 43"):
            session.run(block)
    finally:
        session.close()


# -- the reading of a block, without a server -------------------------------------------------
def test_commands_continue_over_backslashes_and_open_quotes():
    steps = parse_steps(
        ["$ curl -s x \\", '    -d \'{"a":1,', '     "b":2}\'', '{"ok":true}', "$ echo done", "done"], 10
    )
    assert [(s.line, s.command.count("\n"), s.expected) for s in steps] == [
        (10, 2, '{"ok":true}\n'),
        (14, 0, "done\n"),
    ]


def test_a_block_that_never_closes_its_quote_is_refused():
    with pytest.raises(ValueError, match="line 3: the command never ends"):
        parse_steps(["$ echo 'open"], 3)
