"""The objects a serving process keeps for life are kept out of the garbage collector's scans.

An instance imports most of what it will ever use at start-up and, just after its first request, the
Firestore client library its revocation listener runs on (``store/revocations.py``): hundreds of
thousands of modules, classes, protobuf descriptors and schemas that live until the process ends.
CPython's collector scans every tracked object again at each collection of the oldest generation:

* on a cold instance one such collection fell inside the first request, about 40 ms of its 110
  (the imports it does, such as the HTTP client's, allocate enough to trigger it);
* on a busy instance that rescanning measured 10-20 % of the throughput (``bench/RESULTS.md``).

``settle(stage)`` moves every object alive at that moment into the permanent generation (``gc.freeze``,
which takes constant time), which the collector never scans; what later requests allocate is collected
as before. A frozen object that became garbage would never be freed, so each stage acts once per
process and there are two:

``START``     the first MCP request, before its work: everything imported at start-up (``endpoint.py``)
``LISTENER``  the revocation listener is up, the last large import done (``store/revocations.py``)
"""

from __future__ import annotations

import gc
import threading

START = "start"
LISTENER = "listener"

_lock = threading.Lock()
_settled: set[str] = set()


def settle(stage: str) -> bool:
    """Freeze the objects alive now, the first time ``stage`` is reached in this process; True if it did."""
    with _lock:
        if stage in _settled:
            return False
        gc.freeze()
        _settled.add(stage)
        return True
