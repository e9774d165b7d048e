"""Reads what /proc says of a process: resident memory, CPU seconds, context switches, its
descendants and its process group. Read-only; every reader answers None (or 0) for a process
that is gone. Used by the stack's status, tools/bench, bench-api, bench-gateway and soak."""

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    """/proc/<pid>/stat after the command name: fields[0] is the state, [1] the ppid, [2] the
    process group, [11] utime and [12] stime in ticks. None when pid is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def status_kb(pid, field):
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM...)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


def hwm_kb(pid):
    return status_kb(pid, "VmHWM")


def cpu_ticks(pid):
    """utime + stime of pid (all its threads, exited ones included), in ticks."""
    fields = stat_fields(pid)
    try:
        return int(fields[11]) + int(fields[12])
    except (TypeError, IndexError, ValueError):
        return None


def machine_jiffies():
    """(busy, idle, steal) jiffies of all CPUs since boot (/proc/stat); idle includes iowait."""
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in open("/proc/stat").readline().split()[1:9])
    return user + nice + system + irq + softirq, idle + iowait, steal


def cpu_seconds(pid):
    ticks = cpu_ticks(pid)
    return None if ticks is None else ticks / CLK_TCK


def _pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(pid):
    """pid and every process below it (nginx's workers)."""
    children = {}
    for p in _pids():
        fields = stat_fields(p)
        if fields:
            children.setdefault(int(fields[1]), []).append(p)
    result, todo = [], [pid]
    while todo:
        p = todo.pop()
        result.append(p)
        todo.extend(children.get(p, []))
    return result


def process_group(pgid):
    """The pids of a process group."""
    pids = []
    for p in _pids():
        fields = stat_fields(p)
        try:
            if fields and int(fields[2]) == pgid:
                pids.append(p)
        except (IndexError, ValueError):
            pass
    return pids


def context_switches(pid):
    """(voluntary, involuntary) context switches summed over the live threads of pid."""
    vol = invol = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tasks:
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    vol += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    invol += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return vol, invol
