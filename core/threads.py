"""The thread policy: how many torch threads scoring gets, in one place for every command.

The monitor keeps a core for its UI and reader threads; ``logwatch score`` takes every core
unless other processes are busy. :func:`logwatch.core.model.set_threads` applies the number.
Importing this module starts the measurement :func:`busy_cores` reads (the command line imports
it first thing, so a command's own start-up is the measuring interval).
"""

from __future__ import annotations

import os
import time


def scoring_threads(*, keep_a_core: bool = True) -> int:
    """Torch threads for scoring, unless OMP_NUM_THREADS says.

    ``keep_a_core`` (the monitor): every core but one, so the UI and reader threads keep one;
    torch's workers spin while they wait, and sharing every core with them makes the UI stutter.
    Otherwise (``logwatch score``) every core, unless other processes keep at least half a core
    busy right now: beside two busy processes, two threads took 17-21 s and one 9-10 s on 2 cores
    (Loghub OpenStack_2k), since each waits for a core that is taken. Idle, two threads score
    real Loghub nova lines 1.4x faster than one.
    """
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    cores = os.cpu_count() or 2
    if keep_a_core:
        return max(1, cores - 1)
    busy = busy_cores()
    return max(1, cores - 1) if busy is not None and busy >= 0.5 else cores


def busy_cores(seconds: float = 0.1) -> float | None:
    """How many cores other processes keep busy now (Linux /proc/stat, less this process's own time).

    Measured since this module was imported when that was 0.1-5 s ago (``logwatch score``'s
    start-up: importing torch gives the answer for free), else over ``seconds`` of sleep. Not the
    load average: that lags by a minute, so it still counts work this process has just finished
    (learning the log) as another process's. None where /proc/stat cannot be read.
    """
    start = _STARTED
    if start is None or not 0.1 <= time.monotonic() - start[0] <= 5.0:
        start = _cpu_sample()
        time.sleep(seconds)
    end = _cpu_sample()
    if start is None or end is None:
        return None
    spent = end[1] - start[1]
    if spent <= 0:
        return None
    others = spent - (end[2] - start[2]) - (end[3] - start[3])  # busy jiffies, ours taken out
    return max(0.0, others / spent * (os.cpu_count() or 1))


def _cpu_sample() -> tuple[float, int, int, int] | None:
    """(monotonic time, all jiffies, idle jiffies, this process's jiffies); None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        times = os.times()
        own = round((times.user + times.system) * os.sysconf("SC_CLK_TCK"))
        return time.monotonic(), sum(fields), idle, own
    except (OSError, ValueError, IndexError, AttributeError):
        return None


_STARTED = _cpu_sample()
