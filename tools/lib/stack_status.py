"""What the local stack's processes are doing (tools/stack status): alive or not, resident memory
and its peak, CPU seconds, their cgroups' memory and limits; and where everything listens
(printed by tools/stack up)."""

from pathlib import Path

from cgroups import Cgroups
from compose_file import services
from compose_local import translate
from procinfo import cpu_seconds, hwm_kb, rss_kb
from procs import alive
from stack_config import TOKEN, gateway_port, processor_urls
from stack_state import read_state


def status_rows():
    state = read_state()
    cg = Cgroups() if state.get("cgroups") else None
    rows = []
    for p in state.get("processes", []):
        row = {"name": p["name"], "pid": p["pid"], "alive": alive(p["pid"]), "rss_kb": rss_kb(p["pid"]),
               "peak_rss_kb": hwm_kb(p["pid"]), "cpu_s": cpu_seconds(p["pid"])}
        if cg and p["kind"] == "service":
            cur, peak, limit, ooms = cg.memory_stats(p["name"])
            row.update({"cg_mem": cur, "cg_peak": peak, "cg_limit": limit, "oom_kills": ooms})
        rows.append(row)
    return state, rows


def print_status():
    state, rows = status_rows()
    if not rows:
        print("stack: not running")
        return 1
    mb = lambda kb: f"{kb / 1024:.1f}" if kb is not None else "-"
    mbb = lambda b: f"{b / 1048576:.1f}" if b is not None else "-"
    print(f"run folder: {state.get('run')}   cgroups: {state.get('cgroups') or 'off (' + (state.get('cgroups_reason') or '') + ')'}")
    print(f"{'process':<20}{'pid':>8}  {'state':<6}{'rss MB':>8}{'peak MB':>9}{'cg peak':>9}{'limit':>8}{'cpu s':>8}")
    for r in rows:
        limit = r.get("cg_limit")
        limit_s = mbb(limit) if limit and limit < 1 << 50 else "-"
        print(f"{r['name']:<20}{r['pid']:>8}  {'up' if r['alive'] else 'DOWN':<6}{mb(r['rss_kb']):>8}"
              f"{mb(r['peak_rss_kb']):>9}{mbb(r.get('cg_peak')):>9}{limit_s:>8}"
              f"{(r['cpu_s'] or 0):>8.1f}")
    return 0 if all(r["alive"] for r in rows) else 1


def describe(state):
    run = Path(state["run"])
    urls, simulate = processor_urls()
    lines = [f"gateway      http://127.0.0.1:{gateway_port()}  (POST /payments, GET /payments-summary)"]
    for s in services():
        if s["name"].startswith("api"):
            argv, _, _ = translate(s, run)
            lines.append(f"{s['name']:<12} {argv[-1]}")
    lines.append(f"valkey       unix:{run / 'sockets' / 'valkey.sock'}")
    for p in ("default", "fallback"):
        suffix = f"  (simulator, token {TOKEN})" if simulate else ""
        lines.append(f"processor    {p:<9}{urls[p]}{suffix}")
    lines.append(f"logs         {run / 'logs'}")
    cg = state.get("cgroups")
    lines.append(f"limits       {'cgroup ' + cg + ': CPU quota and memory limit per service from compose.yaml' if cg else 'not applied: ' + state.get('cgroups_reason', '')}")
    return "\n".join(lines)
