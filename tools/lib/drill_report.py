"""The drill's table and result files (see drill.py for what the numbers mean)."""

import json
from pathlib import Path

import run_logs


def _runs_text(runs):
    parts = []
    for r in runs:
        end = "…" if r["to_s"] is None else f"{r['to_s']:.1f}"
        what = f"{r['from_s']:.1f}-{end}s"
        if r["unanswered"]:
            what += f" ({r['unanswered']} unanswered: {'+'.join(r.get('unanswered_by') or ['?'])})"
        elif r["max_count_diff"]:
            what += f" (Δ≤{r['max_count_diff']})"
        parts.append(what)
    return ", ".join(parts) or "-"


def _inflight_text(row):
    d = row["in_flight_detail"]
    v = d.get("valkey")
    where = f"out {d['client_out']}"
    if "at_this_api" in d:
        where += f", at this API {d['at_this_api']}"
    if row.get("struck_answered"):
        where += f", answered anyway {row['struck_answered']}"
    if v:
        where += f", queue {v['queue']}" + "".join(f", {w} {n}" for w, n in v["processing"].items())
    return f"{row['in_flight']} ({where})"


def table(report):
    target = report["consistent_within_s"]
    head = ["fault", "in flight at strike (client requests out, Valkey queue, processing lists)", "inconsistent windows",
            "runs (s after strike)", "consistent after", "back up", "lost", "both"]
    lines = []
    rows = []
    for r in report["faults"]:
        back = r.get("ready_s") if r.get("ready_s") is not None else r.get("resumed_s")
        after = "never" if r["consistent_after_s"] is None else f"{r['consistent_after_s']:.1f} s"
        if r["fault"].endswith("-stop") and r["consistent_after_back_s"] is not None:
            after += f" ({r['consistent_after_back_s']:.1f} s after SIGCONT)"
        if r["judged_s"] is None or r["judged_s"] > target:
            after += " !"

        name = r["fault"] + (f" #{r['round']}" if report["config"]["rounds"] > 1 else "")
        rows.append([name, _inflight_text(r), f"{r['inconsistent']}/{r['checks']}", _runs_text(r["runs"]), after,
                     "-" if back is None else f"{back:.1f} s", str(r["lost"]), str(r["sent_to_both"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    lines.append(fmt(head))
    lines.append(fmt(["-" * w for w in widths]))
    lines += [fmt(r) for r in rows]
    p = report["payments"]
    s = report["settle"]
    lines.append("")
    lines.append(f"payments: {p['sent']} sent ({p['requests']} requests), {p['acknowledged']} acknowledged, "
                 f"{p['unconfirmed']} unconfirmed, {p['refused']} refused; statuses {p['statuses']}")
    lines.append(f"settled: {'yes' if s['settled'] else 'NO'} after {s['seconds']} s; ours {s.get('ours')} "
                 f"processors {s.get('processors')} (count, cents)")
    lk = report["lookup"]
    lines.append(f"looked up {lk['looked_up']} ids in both processors: found {lk['found_in_processors']} of their "
                 f"{lk['processors_total']}; {lk['failures']} lookups failed")
    lines.append(f"lost {report['lost']}   double-booked {report['double_booked']}   sent to both "
                 f"{report['sent_to_both']}   processor-accepted but unbooked {report['never_booked']}   "
                 f"wrong amount {report['wrong_amount']}")
    b = report["baseline"]
    lines.append(f"before the first fault: {b['inconsistent']} inconsistent of {b['checks']} windows")
    slow = list(report["slower_than_target"]) + (["windows before the first fault"] if b["inconsistent"] else [])
    lines.append(f"consistent again within {target:.0f} s of every kill (of SIGCONT for the stall): "
                 + ("yes" if report["consistency_target_met"] else "NO: " + ", ".join(slow)))
    for rule, ok in report["rules"].items():
        if not ok:
            lines.append(f"FAILED: {rule}")
    for e in report["errors"]:
        lines.append(f"error: {e}")
    lines.append("drill: " + ("OK (no loss, no double booking, every strike landed with payments in flight)"
                              if report["ok"] else "FAILED"))
    return lines


log_offsets = run_logs.log_offsets


def copy_new_log_lines(logs, offsets, dest):
    """Copies what each service's log gained during the drill; -> {file: lines that look like trouble}."""
    return {name: len(bad) for name, bad in run_logs.copy_new_lines(logs, offsets, dest).items()}


def write(report, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    (out / "drill.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "table.txt").write_text("\n".join(table(report)) + "\n")
