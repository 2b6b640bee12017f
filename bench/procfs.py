"""CPU time and peak memory of processes, and the machine's busy time, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    """User + system CPU seconds of every thread of `pid`, or of its thread `tid` only (the
    main thread's tid is the pid); None once it is gone."""
    where = f"/proc/{pid}" if tid is None else f"/proc/{pid}/task/{tid}"
    try:
        with open(f"{where}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / _TICK


def status_kib(pid: int, key: str) -> int | None:
    """A `kB` line of /proc/<pid>/status, e.g. `VmHWM` (peak resident set size)."""
    return _number(f"/proc/{pid}/status", key)


def written_bytes(pid: int) -> int | None:
    """Bytes `pid` caused to be written to storage (`write_bytes` of /proc/<pid>/io: the page
    cache's dirtied bytes, whether or not flushed yet; sockets and pipes are not in it)."""
    return _number(f"/proc/{pid}/io", "write_bytes")


def _number(path: str, key: str) -> int | None:
    """The number on the `key: <number> [unit]` line of a /proc file; None when the file (its
    process gone) or the line is missing."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name == key:
                    return int(value.split()[0])
    except OSError:
        return None
    return None


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot, from the `cpu` line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


def cores() -> int:
    return len(os.sched_getaffinity(0))


def descendants(pid: int) -> list[int]:
    """Every process below `pid`: its workers and their store writer processes."""
    found = children(pid)
    return [p for c in found for p in (c, *descendants(c))]


def is_store_writer(pid: int) -> bool:
    """A gateway's store writer process (`gateway.store.writer_process`)."""
    try:
        return b"gateway.store.writer_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (its gateway workers, say)."""
    # Each thread lists the children it started (a restarted store writer is the writer
    # thread's, not the main thread's).
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found
