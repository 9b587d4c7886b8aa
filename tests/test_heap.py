"""A fixed mmap threshold: a large block freed goes back to the system (glibc only)."""

import os
import subprocess
import sys

import pytest

from pipelines import heap

# A 24 MB block freed raises glibc's threshold to 24 MB; the 20 MB block after it then
# comes from the heap, and once freed it stays resident unless the threshold is fixed.
_PROGRAM = """
import sys
from pipelines import heap

def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "fixed":
    assert heap.steady_heap()
first = bytearray(24 << 20)
del first
before = resident_mb()
block = bytearray(20 << 20)  # written: every page resident
pinned = [bytearray(64) for _ in range(1000)]  # small blocks above it in the heap
del block
print(round(resident_mb() - before, 1))
"""


def _kept_mb(mode: str) -> float:
    # glibc's own defaults: any MALLOC_* variable (Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in
    # the process that starts a LocalCluster) turns the threshold's adjustment off.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    result = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    return float(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or heap.mallopt() is None, reason="glibc only")
def test_a_large_block_freed_leaves_the_process_only_with_the_fixed_threshold():
    assert _kept_mb("default") > 15
    assert _kept_mb("fixed") < 5
