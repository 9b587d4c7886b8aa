"""A steadier heap for long runs: large blocks go back to the system as soon as they are freed.

glibc's malloc serves a block of 128 KB or more with its own ``mmap``, returned to the
system on ``free``, but after each such free it raises that threshold to the block's size
(up to 32 MB), so later large blocks come from the heap instead and stay resident.
spaCy's batches allocate such blocks (tens of MB for a long chunk): an NLP worker's
resident memory then jumped by ~40 MB on one chunk out of five, and crept up over a run.
Fixing the threshold stops the adjustment: blocks of ``threshold`` bytes or more are
mapped and unmapped every time. At 8 MB the cost was not measurable (600 articles:
35.7 and 37.0 s of CPU against 36.1 and 37.0), while at 1 MB it was ~10%.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: glibc's ``M_MMAP_THRESHOLD`` parameter of ``mallopt``.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 8 * 1024 * 1024


@functools.cache
def mallopt():
    """glibc's ``mallopt``, or None where there is none (macOS, musl: nothing to fix)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return None


def steady_heap(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix malloc's mmap threshold in this process (tests/test_heap.py shows the effect);
    whether it could be."""
    set_option = mallopt()
    return set_option is not None and bool(set_option(_M_MMAP_THRESHOLD, threshold))
