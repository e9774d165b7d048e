"""One cgroup per service of the local stack, holding it to its CPU quota and memory limit from
compose.yaml (cgroup v1 or v2, where the hierarchy is writable: root), and the memory figures
those cgroups report. The parent's name is stack_config.settings.cgroup_name."""

import os
from pathlib import Path

from stack_config import settings

class Cgroups:
    """One cgroup per service with its CPU quota and memory limit (v1 or v2), if writable."""

    def __init__(self):
        self.kind = None
        self.reason = ""
        if os.geteuid() != 0:
            self.reason = "not root"
        elif os.environ.get("STACK_NO_CGROUPS"):
            self.reason = "STACK_NO_CGROUPS is set"
        elif Path("/sys/fs/cgroup/cgroup.controllers").exists():
            self.kind = "v2"
        elif Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() and Path("/sys/fs/cgroup/memory").is_dir():
            self.kind = "v1"
        else:
            self.reason = "no cgroup hierarchy found"
        if self.kind:
            try:
                probe = self._dirs("probe")
                for d in probe:
                    d.mkdir(parents=True, exist_ok=True)
                for d in probe:
                    d.rmdir()
            except OSError as e:
                self.kind, self.reason = None, f"cgroup hierarchy not writable ({e.strerror})"

    def _dirs(self, name):
        if self.kind == "v2":
            return [Path("/sys/fs/cgroup") / settings.cgroup_name / name]
        return [Path("/sys/fs/cgroup/cpu") / settings.cgroup_name / name, Path("/sys/fs/cgroup/memory") / settings.cgroup_name / name]

    def create(self, name, cpus, memory, shares=None):
        """Returns the cgroup.procs files a process must write its pid into. `shares` is
        Docker's cpu_shares (1024 = normal weight)."""
        if not self.kind:
            return []
        if self.kind == "v2":
            parent = Path("/sys/fs/cgroup") / settings.cgroup_name
            parent.mkdir(exist_ok=True)
            for ctl in ("+cpu", "+memory"):
                for level in (Path("/sys/fs/cgroup"), parent):
                    try_write(level / "cgroup.subtree_control", ctl)
            d = parent / name
            d.mkdir(exist_ok=True)
            if cpus:
                (d / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
            if shares:
                (d / "cpu.weight").write_text(str(max(1, min(10000, shares * 100 // 1024))))
            if memory:
                (d / "memory.max").write_text(str(memory))
                try_write(d / "memory.swap.max", "0")
            return [d / "cgroup.procs"]
        cpu_d, mem_d = self._dirs(name)
        cpu_d.mkdir(parents=True, exist_ok=True)
        mem_d.mkdir(parents=True, exist_ok=True)
        if cpus:
            (cpu_d / "cpu.cfs_period_us").write_text("100000")
            (cpu_d / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        (cpu_d / "cpu.shares").write_text(str(shares or 1024))
        if memory:
            (mem_d / "memory.limit_in_bytes").write_text(str(memory))
            try_write(mem_d / "memory.max_usage_in_bytes", "0")
        return [cpu_d / "cgroup.procs", mem_d / "cgroup.procs"]

    def memory_stats(self, name):
        """(current, peak, limit, oom kills) in bytes, where known."""
        if not self.kind:
            return None, None, None, None
        base = Path("/sys/fs/cgroup") if self.kind == "v2" else Path("/sys/fs/cgroup/memory")
        return memory_of(base / settings.cgroup_name / name, self.kind)

    def cpu_stat(self, name):
        """(periods, throttled periods, throttled seconds) of a service's cgroup, or None."""
        if not self.kind:
            return None
        base = Path("/sys/fs/cgroup") if self.kind == "v2" else Path("/sys/fs/cgroup/cpu")
        return cpu_stat_of(base / settings.cgroup_name / name)

    def remove_all(self):
        if not self.kind:
            return
        bases = [Path("/sys/fs/cgroup") / settings.cgroup_name] if self.kind == "v2" else \
            [Path("/sys/fs/cgroup/cpu") / settings.cgroup_name, Path("/sys/fs/cgroup/memory") / settings.cgroup_name]
        for base in bases:
            if base.is_dir():
                for child in base.iterdir():
                    if child.is_dir():
                        try:
                            child.rmdir()
                        except OSError:
                            pass
                try:
                    base.rmdir()
                except OSError:
                    pass


def try_write(p, text):
    """Writes a control file that may be missing or refuse (no swap accounting, a controller
    already enabled or not delegated): the limit it sets is a nicety, not a must."""
    try:
        p.write_text(text)
    except OSError:
        pass


def read_int(p):
    try:
        text = p.read_text().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


def read_kv(p):
    try:
        return {k: int(v) for k, v in (line.split() for line in p.read_text().splitlines() if line.strip())}
    except (OSError, ValueError):
        return {}


# The files holding (current, peak, limit) memory and the OOM kill count, per cgroup version.
MEMORY_FILES = {"v2": ("memory.current", "memory.peak", "memory.max", "memory.events"),
                "v1": ("memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.limit_in_bytes",
                       "memory.oom_control")}


def memory_of(d, kind):
    """(current, peak, limit, oom kills) of the memory cgroup folder d."""
    current, peak, limit, events = MEMORY_FILES[kind]
    return read_int(d / current), read_int(d / peak), read_int(d / limit), read_kv(d / events).get("oom_kill")


def cpu_stat_of(d):
    """(periods, throttled periods, throttled seconds) from d/cpu.stat (v1 or v2), or None."""
    try:
        stat = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
    except (OSError, ValueError):
        return None
    seconds = int(stat["throttled_time"]) / 1e9 if "throttled_time" in stat else \
        int(stat.get("throttled_usec", 0)) / 1e6
    return int(stat.get("nr_periods", 0)), int(stat.get("nr_throttled", 0)), seconds
