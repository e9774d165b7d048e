"""tools/bench's short table: the k6 result JSON (official field names) and the stack's peak memory."""

import json
from pathlib import Path

# The official result file's name per scenario (the chaos file is ours).
RESULT_FILES = {"preview": "partial-results.json", "final": "final-results.json", "chaos": "chaos-results.json"}
SCRIPTS = {"preview": "rinha.js", "final": "rinha-final.js", "chaos": "rinha-chaos.js"}


def read_result(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def money(x):
    return f"{x:,.2f}" if isinstance(x, (int, float)) else str(x)


def mb(value, unit=1):
    return f"{value * unit / 1048576:.1f}" if value is not None else "-"


def memory_rows(rows):
    """status_rows() -> [(name, cg peak MB, limit MB, VmHWM MB, cpu s, throttled, note)] plus the stack's total."""
    out, total_peak, total_limit = [], 0, 0
    for r in rows:
        limit = r.get("cg_limit")
        limit = limit if limit and limit < 1 << 50 else None
        notes = []
        if not r.get("alive", True):
            notes.append("DOWN at the end")
        if r.get("oom_kills"):
            notes.append(f"{r['oom_kills']} OOM kills")
        throttled = "-"
        if r.get("cpu_periods"):
            throttled = f"{100 * r['cpu_throttled'] / r['cpu_periods']:.0f}% {r['cpu_throttled_s']:.1f}s"
        out.append((r["name"], mb(r.get("cg_peak")), mb(limit), mb(r.get("peak_rss_kb"), 1024),
                    f"{r['cpu_s']:.1f}" if r.get("cpu_s") is not None else "-", throttled, ", ".join(notes)))
        if not r["name"].startswith("processor-"):
            total_peak += r.get("cg_peak") or 0
            total_limit += limit or 0
    return out, total_peak, total_limit


def table(meta, result, rows):
    """The printed summary, as a list of lines."""
    lines = [f"tools/bench {meta['scenario']}   gateway {meta['gateway']}   MAX_REQUESTS {meta['max_requests']}   "
             f"pinned {'yes (stack CPU 1, k6 + simulators CPU 0)' if meta['pin'] else 'no'}",
             f"results   {meta['results_dir']}"]
    if meta.get("floor"):
        lines.append("FLOOR: k6 against a server that answers at once and books nothing (tools/floor/floor-server.c): "
                     "only the latency figures mean something; score, lag and payments do not")
    if meta.get("interrupted"):
        lines.append("INTERRUPTED: the numbers below cover part of the test only")
    if result is None:
        lines.append("no result file (k6 did not get to handleSummary)")
    else:
        x = result.get("extra", {})
        p99p = x.get("p99_payments_ms")
        lines += [
            f"score     {money(result['total_liquido'])}   (gross {money(result['total_bruto'])}, fees {money(result['total_taxas'])}; "
            f"fee rates {x.get('fee_rate_default')} / {x.get('fee_rate_fallback')})",
            f"p99       {result['p99']['valor']}   bonus {result['p99']['bonus']}   "
            f"(POST /payments alone: {f'{p99p:.2f}ms' if p99p is not None else 'n/a'})",
            f"fine      {result['multa']['porcentagem'] * 100:g}%   inconsistencies {result['multa']['composicao']['num_inconsistencias']} "
            f"in {x.get('consistency_checks')} checks" + (f" ({x['consistency_call_errors']} summary calls failed)" if x.get("consistency_call_errors") else ""),
            f"payments  {result['pagamentos_solicitados']['qtd_sucesso']} answered 2xx, {result['pagamentos_solicitados']['qtd_falha']} failed; "
            f"booked {result['lag']['num_pagamentos_total']}; lag {result['lag']['lag']}"
            + (("   (negative after an interrupt: payments cut mid-request were sent, not counted)" if meta.get("interrupted")
                else "   CAIXA DOIS (more booked than accepted)") if result["caixa_dois"]["detectado"] else ""),
        ]
        for p in ("default", "fallback"):
            s = result[f"pagamentos_realizados_{p}"]
            lines.append(f"  {p:<8}{s['num_pagamentos']:>8} payments  {money(s['total_bruto']):>16}  fees {money(s['total_taxas'])}")
        if not x.get("totals_recorded", True):
            lines.append("WARNING: the totals were never read (teardown did not run): score and lag are not meaningful")
        v = result.get("verificacao")
        if v:
            lines.append(f"settle    {'settled' if v['estabilizou'] else 'NOT settled'} in {v['tempo_estabilizacao_s']} s; accepted "
                         f"{v['aceitos']['num_pagamentos']} ({v['nao_confirmados']['num_pagamentos']} unconfirmed, "
                         f"{v['reenviados']} re-sent, {v['novas_tentativas']} retries); backend "
                         f"{v['backend']['default']['num_pagamentos']}+{v['backend']['fallback']['num_pagamentos']}, processors "
                         f"{v['processadores']['default']['num_pagamentos']}+{v['processadores']['fallback']['num_pagamentos']}")
            lines.append(f"verify    {'OK: nothing lost, nothing booked twice' if v['ok'] else 'FAILED: ' + '; '.join(v['problemas'])}")
    mem, total_peak, total_limit = memory_rows(rows)
    if mem:
        lines.append(f"{'process':<20}{'cg peak MB':>11}{'limit MB':>10}{'VmHWM MB':>10}{'cpu s':>8}"
                     f"{'throttled':>14}")
        for name, peak, limit, hwm, cpu, throttled, note in mem:
            lines.append(f"  {name:<18}{peak:>11}{limit:>10}{hwm:>10}{cpu:>8}{throttled:>14}  {note}".rstrip())
        lines.append(f"  {'stack total':<18}{mb(total_peak):>11}{mb(total_limit):>10}   (budget 350 MB; cgroup v1 peaks include page cache)")
        lines.append("  throttled: share of the 100 ms CPU periods in which the quota stopped the service, and the time stopped")
    noise = meta.get("machine")
    if noise:
        lines.append(f"machine   {noise['cpus']} CPUs; load average {noise['load_start']:.2f} at start, max {noise['load_max']:.2f}; "
                     f"during k6: all CPUs busy {noise['busy_cores']:.2f} cores avg, of which k6 {noise['k6_cores']:.2f}, "
                     f"stack {noise['stack_cores']:.2f}, others ~{noise['other_cores']:.2f}")
    if meta.get("log_findings"):
        lines.append("logs      " + "; ".join(f"{k}: {v}" for k, v in meta["log_findings"].items()))
    return lines
