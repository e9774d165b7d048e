# One job: what the running container stack looks like: its containers, their state, memory and CPU
# as the engine and the host's cgroups tell (tools/compose status, tools/bench --docker, the tests).
"""Reads the container stack without changing it: the containers of the compose project and the
simulators, `docker inspect`, a compose volume's host folder, the memory and CPU cgroups holding a
container's main process, and the status table of tools/compose status."""

import json
from pathlib import Path

from cgroups import cpu_stat_of, memory_of
from container_config import PROJECT, SIMULATORS
from docker_engine import daemon_ok, out
from procinfo import cpu_seconds, hwm_kb, rss_kb


def containers():
    """{service name: container id} of the compose project, plus the simulators by role."""
    res = out(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
               "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}'])
    found = dict(reversed(line.split()) for line in res.stdout.splitlines() if len(line.split()) == 2)
    for proc, (name, _, _) in SIMULATORS.items():
        cid = out(["docker", "ps", "-a", "-q", "--filter", f"name=^{name}$"]).stdout.strip()
        if cid:
            found[f"processor-{proc}"] = cid
    return found


def inspect(ref):
    res = out(["docker", "inspect", ref])
    return json.loads(res.stdout)[0] if res.returncode == 0 else None


def container_name(service):
    return SIMULATORS[service[len("processor-"):]][0] if service.startswith("processor-") else \
        f"{PROJECT}-{service}-1"


def volume_path(volume):
    """The host folder of a compose volume (the sockets tmpfs is mounted there while in use)."""
    info = json.loads(out(["docker", "volume", "inspect", f"{PROJECT}_{volume}"]).stdout or "[{}]")[0]
    return Path(info["Mountpoint"]) if info.get("Mountpoint") else None


def cgroup_lines(pid):
    """The (hierarchy, controllers, path) lines of /proc/<pid>/cgroup, or None when pid is gone."""
    try:
        return [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    except OSError:
        return None


def cgroup_memory(pid):
    """(current, peak, limit) bytes of the memory cgroup holding pid (v1 or v2)."""
    lines = cgroup_lines(pid) or []
    for _, controllers, path in lines:
        if "memory" in controllers.split(","):
            return memory_of(Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "v1")[:3]
    for hierarchy, controllers, path in lines:
        if hierarchy == "0" and controllers == "":
            return memory_of(Path("/sys/fs/cgroup") / path.lstrip("/"), "v2")[:3]
    return None, None, None


def cpu_stat(pid):
    """(periods, throttled periods, throttled seconds) of the cpu cgroup holding pid (v1 or v2)."""
    for _, controllers, path in cgroup_lines(pid) or []:
        if "cpu" in controllers.split(",") or controllers == "":
            stat = cpu_stat_of(Path("/sys/fs/cgroup") / ("cpu" if controllers else "") / path.lstrip("/"))
            if stat:
                return stat
    return None


def status_rows():
    rows = []
    for service, cid in sorted(containers().items()):
        info = inspect(cid)
        if not info:
            continue
        st = info["State"]
        cur, peak, limit = cgroup_memory(st["Pid"]) if st.get("Running") else (None, None, None)
        rows.append({"name": service, "state": st.get("Status"), "health": (st.get("Health") or {}).get("Status"),
                     "restarts": info.get("RestartCount", 0), "pid": st.get("Pid"), "mem": cur, "peak": peak,
                     "limit": info["HostConfig"].get("Memory") or None, "cg_limit": limit,
                     "user": info["Config"].get("User")})
    return rows


def print_status():
    if not daemon_ok():
        print("container stack: no Docker daemon answers")
        return 1
    rows = status_rows()
    if not rows:
        print("container stack: not running")
        return 1
    mb = lambda b: f"{b / 1048576:.1f}" if b is not None else "-"
    print(f"{'container':<22}{'state':<10}{'health':<10}{'restarts':>8}{'mem MB':>8}{'peak MB':>9}{'limit':>8}")
    for r in rows:
        print(f"{r['name']:<22}{r['state']:<10}{r['health'] or '-':<10}{r['restarts']:>8}{mb(r['mem']):>8}"
              f"{mb(r['peak']):>9}{mb(r['limit']):>8}")
    return 0 if all(r["state"] == "running" for r in rows) else 1


def bench_rows():
    """status_rows() in localstack's shape (tools/bench's table), per container."""
    rows = []
    for r in status_rows():
        pid = r["pid"] if r["state"] == "running" else None
        row = {"name": r["name"], "pid": pid or 0, "alive": r["state"] == "running",
               "rss_kb": rss_kb(pid) if pid else None, "peak_rss_kb": hwm_kb(pid) if pid else None,
               "cpu_s": cpu_seconds(pid) if pid else None, "cg_mem": r["mem"], "cg_peak": r["peak"],
               "cg_limit": r["limit"], "restarts": r["restarts"]}
        stat = cpu_stat(pid) if pid and not r["name"].startswith("processor-") else None
        if stat:
            row.update({"cpu_periods": stat[0], "cpu_throttled": stat[1], "cpu_throttled_s": stat[2]})
        rows.append(row)
    return rows
