"""Start and stop the official Firestore emulator (a Java program shipped with the Google Cloud CLI)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess  # nosec B404 - development tool that starts the local emulator
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING

# This module stays loadable on its own, by path, with no package installed: scripts/preflight.sh
# runs find_launcher() before the virtualenv exists. Framework imports go inside functions.
if TYPE_CHECKING:
    from mcp_auth.devtools.watchdog import Watchdog

INSTALL_HINT = (
    "The Firestore emulator was not found. Install the Google Cloud CLI and its emulator "
    "('gcloud components install cloud-firestore-emulator', or the Debian package "
    "google-cloud-cli-firestore-emulator) and Java 11+, or set MCP_AUTH_FIRESTORE_EMULATOR to the "
    "path of its 'cloud_firestore_emulator' launcher."
)


class EmulatorError(RuntimeError):
    pass


def find_launcher() -> Path:
    explicit = os.environ.get("MCP_AUTH_FIRESTORE_EMULATOR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    gcloud = shutil.which("gcloud")
    if gcloud:
        sdk = Path(os.path.realpath(gcloud)).parent.parent
        candidates.append(sdk / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator")
    for root in ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk"):
        candidates.append(Path(root) / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise EmulatorError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FirestoreEmulator:
    """One emulator process on 127.0.0.1; ``host`` is what FIRESTORE_EMULATOR_HOST wants.

    It runs in a process group of its own, which ``stop()`` ends; a watchdog (``watchdog.py``) ends it
    too when the process that started it dies without stopping it (SIGKILL). Pass ``watchdog`` to share
    one with other groups; without it the emulator starts and closes its own."""

    def __init__(
        self, *, port: int | None = None, log_path: Path | None = None, watchdog: Watchdog | None = None
    ) -> None:
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog = watchdog
        self._own_watchdog: Watchdog | None = None

    def start(self, *, timeout: float = 60.0) -> FirestoreEmulator:
        if shutil.which("java") is None:
            raise EmulatorError("Java was not found on PATH; the Firestore emulator needs Java 11 or newer.")
        launcher = find_launcher()
        watchdog = self._watchdog
        if watchdog is None:
            from mcp_auth.devtools.watchdog import Watchdog

            watchdog = self._own_watchdog = Watchdog().start()
        log: IO[bytes] | int = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed launcher, no shell  # nosec B603 - fixed argv of the emulator launcher, no shell
                [str(launcher), "start", "--host=127.0.0.1", f"--port={self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.stop()
            raise EmulatorError(f"Could not start the Firestore emulator ({launcher}): {exc}") from None
        finally:
            if not isinstance(log, int):
                log.close()  # the child keeps its own descriptor
        watchdog.guard(self._process.pid)  # the launcher leads the group; Java runs in it as its child
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise EmulatorError(f"The Firestore emulator exited with code {code} at start.")
            if self.ready() and self._accepts_writes(deadline):
                return self
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(f"The Firestore emulator did not answer on {self.host} within {timeout:.0f} s.")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as r:  # nosec B310 - loopback emulator
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _accepts_writes(self, deadline: float) -> bool:
        """A freshly started emulator answers HTTP before it keeps up with writes: wait for a real one."""
        url = f"http://{self.host}/v1/projects/demo-warmup/databases/(default)/documents/warmup?documentId=w{time.time_ns()}"
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                url, data=b'{"fields": {}}', method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310  # nosec B310 - http URL to the loopback emulator only
                    return bool(r.status == 200)
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        return False

    def reset(self, project: str) -> None:
        """Delete every document of ``project`` (the emulator's own endpoint)."""
        url = f"http://{self.host}/emulator/v1/projects/{project}/databases/(default)/documents"
        req = urllib.request.Request(url, method="DELETE")
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310  # nosec B310 - http URL to the loopback emulator only
            r.read()

    def stop(self) -> None:
        try:
            self._stop_process()
        finally:
            own, self._own_watchdog = self._own_watchdog, None
            if own is not None:
                own.close()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:  # the whole group: the launcher may have gone while Java still runs
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def __enter__(self) -> FirestoreEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
