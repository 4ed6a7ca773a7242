"""CPU time of a process, read from /proc (or getrusage for our own): how the benchmark charges servers and clients.

A server may be several processes (granian runs its worker under a
supervising parent): it is charged for its whole process tree, every
thread of every process included.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants, from /proc/PID/task/TID/children."""
    found = [pid]
    for parent in found:  # grows while it is walked
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                found += [int(child) for child in task.read_text().split()]
            except OSError:
                continue  # the thread ended meanwhile
    return found


def _own_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # the name in parentheses may hold spaces
    except OSError:
        return 0.0  # it ended meanwhile
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and of every process under it."""
    return sum(_own_cpu_seconds(member) for member in process_tree(pid))


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
