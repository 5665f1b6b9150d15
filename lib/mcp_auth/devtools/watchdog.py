"""A process that stops what the development tools started when the process that started it dies.

The Firestore emulator and the local function run in process groups of their own (so Ctrl-C in a
terminal reaches only the runner, which stops them in order). Its cleanup does not run when the
runner is killed with SIGKILL, though, and the groups would keep running. So the runner also starts
a watchdog, in a session of its own, holding the read end of a pipe whose write end only the runner
holds: the runner names each group it starts on that pipe, and when the pipe closes (the runner
exited, however it exited) the watchdog sends SIGTERM to every named group, then SIGKILL to what is
left after a grace period, and exits.

    python -m mcp_auth.devtools.watchdog    reads process-group ids, one a line, from stdin
"""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 - starts this module with this interpreter
import sys
import time

GRACE_SECONDS = 10.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_groups(pgids: list[int], *, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to each group, SIGKILL to those still there after ``grace`` seconds."""
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    left = [p for p in pgids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    for pgid in left:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Watchdog:
    """The runner's side: ``guard(pgid)`` after starting a group, ``close()`` once everything is stopped."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Watchdog:
        # Its own session: a signal sent to the runner's process group does not reach it. The pipe's
        # write end is not inherited by any other child (pipes are close-on-exec), so it closes exactly
        # when this process lets go of it or dies.
        self._process = subprocess.Popen(  # nosec B603 - this interpreter, a fixed module
            [sys.executable, "-m", "mcp_auth.devtools.watchdog"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def guard(self, pgid: int) -> None:
        """Stop process group ``pgid`` when this process exits without doing so itself."""
        if self._process is None or self._process.stdin is None:
            raise RuntimeError("Watchdog.guard() before start()")
        self._process.stdin.write(f"{pgid}\n".encode())
        self._process.stdin.flush()

    def close(self) -> None:
        """Let the watchdog go: it stops any guarded group still running (none, after a clean stop) and exits."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout=GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides; a stray Ctrl-C must not end the guard
    pgids: list[int] = []
    for line in sys.stdin:
        if line.strip().isdigit():
            pgids.append(int(line))
    stop_groups(pgids)


if __name__ == "__main__":
    main()
