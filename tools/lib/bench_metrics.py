"""What a payment costs, counted rather than timed: CPU time and context switches per process (from
/proc, before and after the k6 run), Valkey commands (INFO commandstats, reset at the start), all
divided by the successful POST /payments of the run; and the p99 of each phase of the scenario (from
the result file's extra.phases, which the k6 scripts fill). Used by tools/bench."""

import json
import resource
import statistics
import subprocess
import urllib.request

import procinfo
from drill import iso_ms  # noqa: F401 (the checker's own timestamps: tools/drill, the e2e windows)

CLK_TCK = procinfo.CLK_TCK
# The stack's own processes, in the order the table shows them; anything else the state lists
# (simulators, the floor server) is shown apart.
STACK = ["gateway", "api1", "api2", "valkey", "worker1", "worker2"]


# ---------------------------------------------------------------- /proc

process_group = procinfo.process_group


def counters(pid):
    """{cpu_ticks, vcsw, ivcsw} of one process: utime+stime of /proc/<pid>/stat (all its threads,
    exited ones included) and the context switches of every live thread (/proc/<pid>/task/*/status)."""
    ticks = procinfo.cpu_ticks(pid)
    if ticks is None:
        return None
    vol, invol = procinfo.context_switches(pid)
    return {"cpu_ticks": ticks, "vcsw": vol, "ivcsw": invol}


def process_pids(process):
    """A state process's pid with its process group (nginx's workers, a shell's children)."""
    return sorted(set([process["pid"]] + process_group(process["pid"])))


def snapshot(processes):
    """{name: {pids, cpu_ticks, vcsw, ivcsw}} for the state's processes, each with its process group
    (nginx's workers, a shell's children)."""
    out = {}
    for p in processes:
        pids = process_pids(p)
        total = {"pids": pids, "cpu_ticks": 0, "vcsw": 0, "ivcsw": 0, "kind": p.get("kind")}
        seen = False
        for pid in pids:
            c = counters(pid)
            if c:
                seen = True
                for k in ("cpu_ticks", "vcsw", "ivcsw"):
                    total[k] += c[k]
        if seen:
            out[p["name"]] = total
    return out


def children_usage():
    """This process's reaped children so far (k6, once it has exited): CPU s and context switches."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_s": r.ru_utime + r.ru_stime, "vcsw": r.ru_nvcsw, "ivcsw": r.ru_nivcsw}


def process_deltas(before, after, k6_before=None, k6_after=None):
    """{name: {cpu_s, vcsw, ivcsw, kind}} over the run; a process that restarted (new pid) is skipped."""
    out = {}
    for name, a in after.items():
        b = before.get(name)
        if not b or b["pids"][:1] != a["pids"][:1]:
            continue
        out[name] = {"cpu_s": (a["cpu_ticks"] - b["cpu_ticks"]) / CLK_TCK, "vcsw": a["vcsw"] - b["vcsw"],
                     "ivcsw": a["ivcsw"] - b["ivcsw"], "kind": a.get("kind")}
    if k6_before and k6_after:
        out["k6"] = {k: k6_after[k] - k6_before[k] for k in ("cpu_s", "vcsw", "ivcsw")}
        out["k6"]["kind"] = "k6"
    return out


# ---------------------------------------------------------------- Valkey

def valkey(cli, sock, *args):
    return subprocess.run([cli, "-s", str(sock), *args], capture_output=True, text=True, timeout=10).stdout


def reset_valkey_stats(cli, sock):
    return valkey(cli, sock, "CONFIG", "RESETSTAT").strip() == "OK"


def valkey_commandstats(cli, sock):
    """{command: {calls, usec}} from INFO commandstats (commands a script runs are counted too)."""
    stats = {}
    for line in valkey(cli, sock, "INFO", "commandstats").splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, rest = line[len("cmdstat_"):].partition(":")
        kv = dict(x.split("=", 1) for x in rest.strip().split(",") if "=" in x)
        stats[name] = {"calls": int(kv.get("calls", 0)), "usec": int(kv.get("usec", 0))}
    return stats


# ---------------------------------------------------------------- per payment

def per_payment(deltas, commands, payments):
    """The figures saved in the result (extra.per_payment) and printed."""
    n = max(payments or 0, 1)

    def row(d):
        return {"cpu_us": d["cpu_s"] * 1e6 / n, "ctx_switches": (d["vcsw"] + d["ivcsw"]) / n,
                "voluntary": d["vcsw"] / n, "involuntary": d["ivcsw"] / n, "cpu_s": d["cpu_s"],
                "vcsw": d["vcsw"], "ivcsw": d["ivcsw"]}

    processes = {name: row(d) for name, d in deltas.items()}
    stack = [name for name in STACK if name in deltas]
    total = None
    if stack:
        total = row({k: sum(deltas[s][k] for s in stack) for k in ("cpu_s", "vcsw", "ivcsw")})
    out = {"payments": payments, "processes": processes, "stack_total": total, "stack_processes": stack}
    if commands is not None:
        # The reset itself is counted after it ran (INFO is not counted in its own answer).
        own = {"config|resetstat": 1}
        calls = {c: s["calls"] - own.get(c, 0) for c, s in commands.items()}
        calls = {c: v for c, v in calls.items() if v > 0}
        out["valkey_commands"] = {
            "total": sum(calls.values()) / n,
            "per_command": {c: v / n for c, v in sorted(calls.items(), key=lambda kv: -kv[1])},
            "calls": calls,
        }
    return out


def table_lines(pp):
    if not pp:
        return []
    lines = [f"per payment ({pp['payments']} successful POST /payments){'':<6}{'CPU µs':>9}{'ctx sw':>9}"
             f"{'(vol':>8}{'+ invol)':>10}"]

    def line(name, r):
        return (f"  {name:<50}{r['cpu_us']:>9.0f}{r['ctx_switches']:>9.2f}{r['voluntary']:>8.2f}"
                f"{r['involuntary']:>10.2f}")

    procs = pp["processes"]
    for name in pp["stack_processes"]:
        lines.append(line(name, procs[name]))
    if pp.get("stack_total"):
        lines.append(line("stack total (the six above)" if len(pp["stack_processes"]) == 6 else "stack total", pp["stack_total"]))
    for name, r in procs.items():
        if name not in pp["stack_processes"]:
            lines.append(line(name, r))
    v = pp.get("valkey_commands")
    if v:
        parts = ", ".join(f"{c} {x:.2f}" for c, x in list(v["per_command"].items())[:10])
        lines.append(f"valkey commands per payment: {v['total']:.2f} ({parts}; commands scripts run are counted too)")
    return lines


# ---------------------------------------------------------------- phases and the floor

def phases(result):
    return ((result or {}).get("extra") or {}).get("phases") or []


def p99(result):
    return ((result or {}).get("extra") or {}).get("p99_ms_unrounded")


def add_processor_counts(result, processors, token, timeout=5):
    """Adds to each phase of the result the payments each processor recorded with a requestedAt in
    that phase's window (the processors' admin summaries, read after the run, before anything
    stops). requestedAt is when a worker sent the payment, so this shows where each phase's payments
    went, and where a backlog drained. A count that could not be read is None. -> whether the result
    has the phases' windows (and so got counts)."""
    ph = phases(result)
    start = ((result or {}).get("extra") or {}).get("started_at_ms")
    if not ph or not start:
        return False
    for i, p in enumerate(ph):
        lo = start + int(p["from_s"] * 1000)
        # The last phase runs on past the script's duration (the drain after the load stops).
        hi = start + int(ph[i + 1]["from_s"] * 1000) - 1 if i + 1 < len(ph) else start + 3_600_000
        counts = {}
        for name, url in processors.items():
            req = urllib.request.Request(f"{url}/admin/payments-summary?from={iso_ms(lo)}&to={iso_ms(hi)}",
                                         headers={"X-Rinha-Token": token})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    counts[name] = int(json.loads(r.read())["totalRequests"])
            except (OSError, ValueError, KeyError):
                counts[name] = None
        p["payments"] = counts
    return True


def phase_lines(result, floor=None):
    """p99 per phase, with the floor's and the ratio when a floor result is given, and the payments
    each processor recorded in the phase when they were read."""
    ph = phases(result)
    if not ph:
        return []
    fl = {p["phase"]: p for p in phases(floor)} if floor else {}
    counted = any(p.get("payments") for p in ph)
    head = f"p99 per phase{'':<46}{'p99 ms':>9}{'requests':>10}"
    if floor:
        head += f"{'floor ms':>10}{'ratio':>8}"
    if counted:
        head += f"{'default':>9}{'fallback':>9}"
    lines = [head]
    for p in ph:
        span = f"{p['phase']} {p['from_s']:g}-{p['to_s']:g} s {p.get('what') or ''}"
        s = f"  {span[:55]:<57}{fmt(p['p99_ms']):>9}{p['requests']:>10}"
        f = fl.get(p["phase"])
        if floor:
            s += f"{fmt(f['p99_ms']):>10}{ratio(p['p99_ms'], f['p99_ms']):>8}" if f else f"{'-':>10}{'-':>8}"
        if counted:
            n = p.get("payments") or {}
            s += "".join(f"{'-' if n.get(k) is None else n[k]:>9}" for k in ("default", "fallback"))
        lines.append(s)
    return lines


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- targets

P99_RATIO = 1.5  # the stack's p99 over the floor's, at most
PHASE_RATIO = 2.0  # any phase's p99 over the floor's same phase, at most


def targets(stack_results, floor_results):
    """-> (lines, misses, summary dict). Medians over the runs; correctness over every run."""
    misses, lines = [], []
    for i, r in enumerate(stack_results, 1):
        if r is None:
            misses.append(f"run {i}: no result file")
            continue
        inc = r["multa"]["composicao"]["num_inconsistencias"]
        lag = r["lag"]["lag"]
        if inc:
            misses.append(f"run {i}: {inc} inconsistencies")
        if lag < 0:
            misses.append(f"run {i}: lag {lag} (negative: more booked than accepted)")
        elif lag != 0:
            misses.append(f"run {i}: lag {lag}")
    s_p99 = median([p99(r) for r in stack_results])
    f_p99 = median([p99(r) for r in floor_results])
    summary = {"runs": len(stack_results), "p99_ms": s_p99, "floor_p99_ms": f_p99,
               "p99_ratio": s_p99 / f_p99 if s_p99 is not None and f_p99 else None,
               "p99_ratio_max": P99_RATIO, "phase_ratio_max": PHASE_RATIO, "phases": []}
    lines.append(f"{'':<44}{'stack':>9}{'floor':>9}{'ratio':>8}{'target':>9}")
    ok = summary["p99_ratio"] is not None and summary["p99_ratio"] <= P99_RATIO
    lines.append(f"  {'p99 (median of ' + str(len(stack_results)) + ' runs), ms':<42}{fmt(s_p99):>9}{fmt(f_p99):>9}"
                 f"{ratio(s_p99, f_p99):>8}{'<= ' + format(P99_RATIO, 'g') + 'x':>9}  {'ok' if ok else 'MISSED'}")
    if not ok:
        misses.append(f"p99 {fmt(s_p99)} ms is {ratio(s_p99, f_p99)} the floor's {fmt(f_p99)} ms (target <= {P99_RATIO:g}x)")
    ids = [p["phase"] for p in phases(next((r for r in stack_results if r), None))]
    for pid in ids:
        def phase_p99(results):
            return median([next((p["p99_ms"] for p in phases(r) if p["phase"] == pid), None) for r in results])
        sp, fp = phase_p99(stack_results), phase_p99(floor_results)
        what = next((p for p in phases(next(r for r in stack_results if r)) if p["phase"] == pid), {})
        r_ = sp / fp if sp is not None and fp else None
        ok = r_ is not None and r_ <= PHASE_RATIO
        summary["phases"].append({"phase": pid, "from_s": what.get("from_s"), "to_s": what.get("to_s"),
                                  "p99_ms": sp, "floor_p99_ms": fp, "ratio": r_})
        label = f"phase {pid} ({what.get('from_s', 0):g}-{what.get('to_s', 0):g} s)"
        lines.append(f"  {label:<42}{fmt(sp):>9}{fmt(fp):>9}{ratio(sp, fp):>8}{'<= ' + format(PHASE_RATIO, 'g') + 'x':>9}"
                     f"  {'ok' if ok else 'MISSED'}")
        if not ok:
            misses.append(f"phase {pid}: p99 {fmt(sp)} ms is {ratio(sp, fp)} the floor's {fmt(fp)} ms (target <= {PHASE_RATIO:g}x)")
    inc = [r["multa"]["composicao"]["num_inconsistencias"] if r else None for r in stack_results]
    lags = [r["lag"]["lag"] if r else None for r in stack_results]
    lines.append(f"  inconsistencies per run {inc}; lag per run {lags} (target: 0, never negative)")
    summary.update({"inconsistencies": inc, "lags": lags, "misses": misses, "ok": not misses})
    return lines, misses, summary
