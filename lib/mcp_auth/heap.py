"""The objects a serving process keeps for life are kept out of the garbage collector's scans.

An instance imports most of what it will ever use at start-up and, just after its first request, the
Firestore client library its revocation listener runs on (``store/revocations.py``): hundreds of
thousands of modules, classes, protobuf descriptors and schemas that live until the process ends.
CPython's collector scans every tracked object again at each collection of the oldest generation;
on a busy instance that rescanning measured 10-20 % of the throughput (``bench/RESULTS.md``).
``settle()`` moves every object alive at that moment into the permanent generation (``gc.freeze``),
which the collector never scans; what later requests allocate is collected as before. It acts once
per process (a frozen object that became garbage would never be freed, so freezing again and again
would keep such leftovers), when the listener is up and the last large import is done.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_settled = False


def settle() -> bool:
    """Freeze the objects alive now, the first time it is called in this process; True if it did."""
    global _settled
    with _lock:
        if _settled:
            return False
        gc.freeze()
        _settled = True
        return True
