"""A counting TCP proxy in front of the Firestore emulator.

The Firestore client speaks gRPC: HTTP/2 without TLS ("prior knowledge") to
the emulator. The proxy forwards every byte unchanged and, on the way in,
parses the client's HTTP/2 frames: each HEADERS block that opens a stream is
one RPC, and its ``:path`` (HPACK-decoded) names the method, for example
``/google.firestore.v1.Firestore/BatchGetDocuments``. A connection that opens
with anything else is Firestore's REST API over HTTP/1.1 (the framework's point
reads of a cold instance, ``store/rest.py``): each request line is one call,
named like the RPC it stands for (``GET …/documents/users/u`` is ``GetDocument``,
``POST …/documents:commit`` is ``Commit``). ``counts`` maps method
names to how many calls were made; ``reads()`` and ``writes()`` sum them, and ``listens()`` counts the
real-time listener streams (a stream, not a read per request: counted apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter

from hpack import Decoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS, _CONTINUATION = 0x1, 0x9
_END_HEADERS, _PADDED, _PRIORITY = 0x4, 0x8, 0x20
READ_METHODS = frozenset(
    {
        "GetDocument",
        "BatchGetDocuments",
        "RunQuery",
        "RunAggregationQuery",
        "ListDocuments",
        "ListCollectionIds",
        "PartitionQuery",
    }
)
WRITE_METHODS = frozenset(
    {
        "Commit",
        "BatchWrite",
        "CreateDocument",
        "UpdateDocument",
        "DeleteDocument",
        "Write",
        "BeginTransaction",
        "Rollback",
    }
)


class FrameCounter:
    """Feeds on the client-to-server byte stream of one connection and counts RPCs by method."""

    def __init__(self, counts: Counter[str]) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._preface_seen = False
        self._decoder = Decoder()
        self._decoder.max_allowed_table_size = 1 << 20
        self._block = bytearray()
        self._http1 = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if self._http1:
            self._requests()
            return
        if not self._preface_seen:
            if not PREFACE.startswith(bytes(self._buffer[: len(PREFACE)])):
                self._http1 = True  # the REST API
                self._requests()
                return
            if len(self._buffer) < len(PREFACE):
                return
            del self._buffer[: len(PREFACE)]
            self._preface_seen = True
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[0:3], "big")
            if len(self._buffer) < 9 + length:
                return
            kind, flags = self._buffer[3], self._buffer[4]
            payload = bytes(self._buffer[9 : 9 + length])
            del self._buffer[: 9 + length]
            if kind == _HEADERS:
                self._block = bytearray(_header_fragment(payload, flags))
            elif kind == _CONTINUATION:
                self._block += payload
            else:
                continue
            if flags & _END_HEADERS:
                self._headers_done(bytes(self._block))

    def _requests(self) -> None:
        """HTTP/1.1: count each complete request (request line and headers; a body is skipped by its length)."""
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            length = next(
                (int(v) for k, _, v in (h.partition(":") for h in head[1:]) if k.lower() == "content-length"), 0
            )
            if len(self._buffer) < end + 4 + length:
                return
            del self._buffer[: end + 4 + length]
            method, _, rest = head[0].partition(" ")
            path = rest.rsplit(" ", 1)[0].split("?", 1)[0]
            self._counts[_rest_method(method, path)] += 1

    def _headers_done(self, block: bytes) -> None:
        headers = self._decoder.decode(block, raw=False)
        path = dict(headers).get(":path")
        if path:
            self._counts[path.rsplit("/", 1)[-1]] += 1


def _rest_method(method: str, path: str) -> str:
    """The RPC a REST call stands for: ``…/documents:commit`` -> ``Commit``, a GET of a document -> ``GetDocument``."""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        verb = last.rsplit(":", 1)[-1]
        return "BatchGetDocuments" if verb == "batchGet" else verb[:1].upper() + verb[1:]
    return {"GET": "GetDocument", "PATCH": "UpdateDocument", "DELETE": "DeleteDocument", "POST": "CreateDocument"}.get(
        method, method
    )


def _header_fragment(payload: bytes, flags: int) -> bytes:
    start, end = 0, len(payload)
    if flags & _PADDED:
        start, end = 1, len(payload) - payload[0]
    if flags & _PRIORITY:
        start += 5
    return payload[start:end]


class CountingProxy:
    """Listens on 127.0.0.1 (``host`` is what FIRESTORE_EMULATOR_HOST wants) and forwards to ``upstream``.

    Runs its own event loop in a daemon thread; use as a context manager.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self.counts: Counter[str] = Counter()
        self.host = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="firestore-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.host = f"127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    @staticmethod
    def reads(counts: Counter[str]) -> int:
        return sum(n for name, n in counts.items() if name in READ_METHODS)

    @staticmethod
    def listens(counts: Counter[str]) -> int:
        """Real-time listener streams opened (the revocation listener: one per instance, not per request)."""
        return counts.get("Listen", 0)

    @staticmethod
    def writes(counts: Counter[str]) -> int:
        return sum(n for name, n in counts.items() if name in WRITE_METHODS)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        counter = FrameCounter(_Locked(self.counts, self._lock))  # type: ignore[arg-type]
        await asyncio.gather(
            self._pipe(reader, up_writer, counter), self._pipe(up_reader, writer, None), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: FrameCounter | None) -> None:
        try:
            while data := await reader.read(65536):
                if counter is not None:
                    counter.feed(data)
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


class _Locked:
    """A Counter view whose increments hold the proxy's lock (the harness reads from another thread)."""

    def __init__(self, counts: Counter[str], lock: threading.Lock) -> None:
        self._counts, self._lock = counts, lock

    def __getitem__(self, key: str) -> int:
        return self._counts[key]

    def __setitem__(self, key: str, value: int) -> None:
        with self._lock:
            self._counts[key] = value
