"""tools/bench --timeline: where a run's slow requests fell, second by second.

k6 writes every request to a CSV (K6_OUT), while a sampler reads every 100 ms the machine's CPU
(/proc/stat), the CPU of k6, of each stack process and of the simulators, and how long each
service's CPU quota stopped it (cgroup cpu.stat). Valkey's log says when it rewrote its
append-only file (a fork whose CPU counts against Valkey's quota). Per second of the run, the
timeline gives the requests over the run's p99 beside what each of those was doing, and sums up
which share of the slow requests fell in seconds of a rewrite, of a quota stall, or of neither, and
what k6 and the stack used in the seconds with many slow requests against the others.

Writing every request costs k6 CPU: a run with --timeline is for finding where the time goes, not
for comparing its p99 with runs without it."""

import collections
import csv
import gzip
import re
import threading
import time
from datetime import datetime

import procinfo

SAMPLE_SECONDS = 0.1
# A second counts as a "spike" when at least this many of its requests were over the run's p99.
SPIKE_REQUESTS = 10
REWRITE_START = re.compile(r"(\d+ \w{3} \d{4} \d\d:\d\d:\d\d\.\d+) \* Background append only file rewriting started")
REWRITE_END = re.compile(r"(\d+ \w{3} \d{4} \d\d:\d\d:\d\d\.\d+) \* Background AOF rewrite terminated")


class Sampler(threading.Thread):
    """Samples every 100 ms until stopped. `groups()` -> {name: [pid, ...]}, asked again every 2 s
    (processes restart); `throttled()` -> {service: throttled seconds so far}."""

    def __init__(self, groups, throttled):
        super().__init__(daemon=True)
        self.groups_fn, self.throttled_fn = groups, throttled
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        groups, asked = {}, 0.0
        while not self.stop.is_set():
            now = time.time()
            if now - asked > 2.0:
                try:
                    groups = self.groups_fn()
                except Exception:  # a state file being rewritten: keep the last groups
                    pass
                asked = now
            ticks = {}
            for name, pids in groups.items():
                values = [t for t in (procinfo.cpu_ticks(p) for p in pids) if t is not None]
                if values:
                    ticks[name] = sum(values)
            try:
                throttled = self.throttled_fn()
            except Exception:  # a cgroup going away at the end: no stalls in this sample
                throttled = {}
            self.samples.append((now, procinfo.machine_jiffies(), ticks, throttled))
            self.stop.wait(SAMPLE_SECONDS)


def read_requests(csv_gz, backend):
    """{epoch second: [ms, ...]} of the POST /payments k6 sent to the backend."""
    out = collections.defaultdict(list)
    with gzip.open(csv_gz, "rt", newline="") as f:
        for r in csv.DictReader(f):
            if (r["metric_name"] == "http_req_duration" and r["method"] == "POST"
                    and r["url"].startswith(backend) and r["url"].rstrip("/").endswith("/payments")):
                out[int(r["timestamp"])].append(float(r["metric_value"]))
    return out


def valkey_rewrites(log_file):
    """[(start, end)] epoch seconds of Valkey's append-only-file rewrites in its log (local time)."""
    spans, start = [], None
    try:
        lines = open(log_file, errors="replace").read().splitlines()
    except OSError:
        return spans
    for line in lines:
        for pattern, is_start in ((REWRITE_START, True), (REWRITE_END, False)):
            m = pattern.search(line)
            if not m:
                continue
            t = time.mktime(datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f").timetuple())
            t += float("0." + m.group(1).rsplit(".", 1)[1])
            if is_start:
                start = t
            elif start is not None:
                spans.append((start, t))
                start = None
    return spans


def per_second(samples):
    """{epoch second: Counter} of jiffies (busy, idle, steal), process ticks and throttled ms."""
    out = {}
    for (t0, m0, p0, q0), (t1, m1, p1, q1) in zip(samples, samples[1:]):
        c = out.setdefault(int(t1), collections.Counter())
        c["busy"] += m1[0] - m0[0]
        c["idle"] += m1[1] - m0[1]
        c["steal"] += m1[2] - m0[2]
        for name, ticks in p1.items():
            if name in p0:
                c["cpu:" + name] += ticks - p0[name]
        for name, seconds in q1.items():
            if name in q0:
                c["throttled:" + name] += round((seconds - q0[name]) * 1000)
    return out


def report(requests, samples, rewrites, groups_order):
    """-> (lines, summary) for the run: per second, and the slow requests' share by cause."""
    every = sorted(v for vs in requests.values() for v in vs)
    if not every:
        return ["timeline: no POST /payments recorded"], None
    p99 = every[min(int(len(every) * 0.99), len(every) - 1)]
    hz = procinfo.CLK_TCK
    seconds = per_second(samples)
    rewrite_seconds = {s for a, b in rewrites for s in range(int(a), int(b) + 1)}
    first = min(requests)
    head = (f"{'s':>4} {'reqs':>5} {'p99 ms':>7} {'max ms':>7} {'slow':>5}  {'busy':>5} {'steal':>5} "
            + " ".join(f"{g[:8]:>8}" for g in groups_order) + "  throttled ms / rewrite")
    lines = [f"timeline (every second with a request over the run's p99 of {p99:.2f} ms, a quota stall or "
             f"a Valkey rewrite; CPU in cores, busy = all CPUs)", head]
    share = collections.Counter()
    kinds = {"spike": collections.Counter(), "calm": collections.Counter()}
    counts = collections.Counter()
    for s in sorted(requests):
        vs = sorted(requests[s])
        slow = sum(1 for v in vs if v > p99)
        c = seconds.get(s, collections.Counter())
        stalls = {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("throttled:") and v > 0}
        cause = "rewrite" if s in rewrite_seconds else ("quota" if stalls else "neither")
        share[cause] += slow
        kind = "spike" if slow >= SPIKE_REQUESTS else "calm"
        counts[kind] += 1
        for g in groups_order:
            kinds[kind][g] += c.get("cpu:" + g, 0)
        kinds[kind]["busy"] += c.get("busy", 0)
        if slow or stalls or s in rewrite_seconds:
            cores = " ".join(f"{c.get('cpu:' + g, 0) / hz:>8.2f}" for g in groups_order)
            note = ", ".join(f"{k} {v}" for k, v in sorted(stalls.items()))
            if s in rewrite_seconds:
                note = (note + ", " if note else "") + "rewrite"
            lines.append(f"{s - first:>4} {len(vs):>5} {vs[int(len(vs) * 0.99)]:>7.2f} "
                         f"{vs[-1]:>7.2f} {slow:>5}  {c.get('busy', 0) / hz:>5.2f} {c.get('steal', 0) / hz:>5.2f} "
                         f"{cores}  {note}".rstrip())
    total_slow = sum(share.values()) or 1
    summary = {
        "p99_ms": p99, "slow_requests": sum(share.values()),
        "slow_share": {k: share[k] / total_slow for k in ("rewrite", "quota", "neither")},
        "spike_seconds": counts["spike"], "calm_seconds": counts["calm"],
        "cores": {kind: {g: kinds[kind][g] / hz / max(counts[kind], 1) for g in list(groups_order) + ["busy"]}
                  for kind in kinds},
    }
    lines += summary_lines(summary, groups_order)
    return lines, summary


def summary_lines(summary, groups_order):
    sh = summary["slow_share"]
    lines = [f"slow requests (over the run's p99, {summary['p99_ms']:.2f} ms): {summary['slow_requests']}; "
             f"in seconds of a Valkey rewrite {100 * sh['rewrite']:.0f} %, of a quota stall {100 * sh['quota']:.0f} %, "
             f"of neither {100 * sh['neither']:.0f} %"]
    for kind, label in (("spike", f"seconds with >= {SPIKE_REQUESTS} slow requests"), ("calm", "the other seconds")):
        c = summary["cores"][kind]
        n = summary["spike_seconds" if kind == "spike" else "calm_seconds"]
        lines.append(f"  {label} ({n}): cores used, mean: all CPUs {c['busy']:.2f}, "
                     + ", ".join(f"{g} {c[g]:.2f}" for g in groups_order))
    return lines
