// A day the official tests do not bring (ours): long outages, both processors down at once, fast
// flapping, a default that is slow but never fails for a minute and a half, then processors
// slower than the checker's 2 s lag (the default alone at 1.8 s, then both at 3 s), under a
// sustained load; clients that retry (same correlationId) and amounts that vary. Scored like the
// final (processors' admin totals at the end of the load, consistency on [now-15 s, now-2 s]);
// besides the official check every 10 s, a windowed check every few seconds compares counts AND
// amounts on the same window and reports each mismatched window with its phase. Then, with both
// processors healthy, it waits for the backend to settle and verifies that nothing was lost or
// booked twice: backend summary == processors' admin totals == accepted payments.
//
// Parameters: those of rinha-lib.js, plus CHAOS_SETTLE_S (longest wait for the backend to drain,
// default 90), CHAOS_RESEND_RATE (share of accepted payments a client sends again, default 0.02),
// CHAOS_WINDOW_CHECK_S (seconds between windowed checks, default 3).
// Run: tools/bench chaos (or k6 run test/rinha-chaos.js against a running stack).

import exec from "k6/execution";
import { sleep } from "k6";
import { Counter } from "k6/metrics";
import * as D from "./decimal.js";
import * as L from "./rinha-lib.js";

const MAX_REQUESTS = L.maxRequests(500);
const LOAD_S = 300;
const RAMP_S = 60;
const SETTLE_S = parseInt(__ENV.CHAOS_SETTLE_S || "90", 10);
const RESEND_RATE = parseFloat(__ENV.CHAOS_RESEND_RATE || "0.02");
const RETRIES = 2; // a client tries a payment up to 3 times when it gets no 2xx
const WINDOW_CHECK_S = parseFloat(__ENV.CHAOS_WINDOW_CHECK_S || "3");

const OK = [0, false];
const DOWN = [0, true];

/** [start s, default [delay ms, failing], fallback [delay ms, failing], what, phase tag (windowed checks)] */
function timeline() {
  const t = [
    [0, OK, OK, "warm-up, both healthy", "warm-up"],
    [20, DOWN, OK, "default down for 40 s", "default-down"],
    [60, DOWN, DOWN, "both down for 30 s: everything must wait", "both-down"],
  ];
  // Fast flapping, 90-120 s: the four combinations in turn, 1.5 s each, small delays.
  const states = [[[0, false], [20, false]], [[10, true], [0, false]], [[30, true], [10, true]], [[0, false], [0, true]]];
  for (let i = 0; i < 20; i++) {
    const [d, f] = states[i % states.length];
    t.push([90 + i * 1.5, d, f, i === 0 ? "flapping every 1.5 s for 30 s" : "", "flapping"]);
  }
  t.push([120, [1200, false], OK, "default slow (1.2 s) but never failing, 90 s", "default-1200"]);
  t.push([180, [1200, false], DOWN, "... and the fallback down for its last 30 s", "default-1200-only"]);
  t.push([210, [40, false], [40, false], "recovery, both at 40 ms", "recovery"]);
  // Slower than the checker's lag (its window ends 2 s before now): a payment sent at t is in a
  // window from t + 2 s on, but booked only when the processor answers.
  t.push([220, [1800, false], DOWN, "default at 1.8 s, the fallback down, 20 s", "default-1800-only"]);
  t.push([240, [3000, false], [3000, false], "both at 3 s, never failing, 30 s", "both-3000"]);
  t.push([270, [40, false], [40, false], "recovery, both at 40 ms", "recovery-2"]);
  t.push([LOAD_S, OK, OK, "end of load: both healthy for the settle period", "settle"]);
  return t;
}

const SCENARIOS = {
  payments: {
    exec: "payments", executor: "ramping-vus", startVUs: 1, gracefulRampDown: "0s", gracefulStop: "10s",
    stages: [{ target: MAX_REQUESTS, duration: `${RAMP_S}s` }, { target: MAX_REQUESTS, duration: `${LOAD_S - RAMP_S}s` }],
  },
  payments_consistency: { exec: "consistency", executor: "constant-vus", duration: `${LOAD_S}s`, vus: 1 },
  window_checks: { exec: "windowCheck", executor: "constant-vus", duration: `${LOAD_S}s`, vus: 1, gracefulStop: "5s" },
  chaos_timeline: { exec: "chaosTimeline", executor: "per-vu-iterations", vus: 1, iterations: 1, maxDuration: `${LOAD_S + 30}s` },
};

// The phases p99 is reported for: the timeline's entries that say what starts (the flapping is one),
// up to the end of the load (the settle period's calls are teardown's).
const P99_PHASES = timeline().filter(([at, , , what]) => what && at < LOAD_S);
L.trackPhases(P99_PHASES.map(([at]) => at), SCENARIOS, LOAD_S, P99_PHASES.map(([, , , what]) => what));

// The phase tags of the windowed checks.
const PHASES = [...new Set(timeline().map((x) => x[4]))];

/** The phase tag at `s` seconds into the load. */
function phaseAt(s) {
  let tag = PHASES[0];
  for (const x of timeline()) if (x[0] <= s) tag = x[4];
  return tag;
}

const windowThresholds = {};
for (const ph of PHASES) {
  // Always true: they make k6 keep the per-phase sub-metrics for handleSummary.
  windowThresholds[`chaos_window_checks{phase:${ph}}`] = ["count>=0"];
  windowThresholds[`chaos_window_mismatches{phase:${ph}}`] = ["count>=0"];
}

export const options = {
  summaryTrendStats: ["p(99)", "count"],
  thresholds: { ...L.THRESHOLDS, ...L.phaseThresholds(), ...windowThresholds },
  teardownTimeout: `${SETTLE_S + 60}s`,
  scenarios: SCENARIOS,
};

const accepted = new Counter("chaos_accepted");
const acceptedCents = new Counter("chaos_accepted_cents");
const unconfirmed = new Counter("chaos_unconfirmed");
const unconfirmedCents = new Counter("chaos_unconfirmed_cents");
const rejected = new Counter("chaos_rejected");
const resent = new Counter("chaos_resent");
const retried = new Counter("chaos_retries");
// The windowed checks: counts and amounts over [now-15 s, now-2 s], tagged with the phase.
const windows = {
  checks: new Counter("chaos_window_checks"),
  mismatches: new Counter("chaos_window_mismatches"),
  countDiff: new Counter("chaos_window_count_diff"),
  centsDiff: new Counter("chaos_window_cents_diff"),
  errors: new Counter("chaos_window_errors"),
};
const timelineCompleted = new Counter("chaos_timeline_completed");
const settle = {
  settled: new Counter("chaos_settled"),
  ms: new Counter("chaos_settle_ms"),
};
const final = {};
for (const who of ["backend", "processor"]) {
  for (const p of L.PROCESSORS) {
    final[`${who}_${p}_requests`] = new Counter(`chaos_${who}_${p}_requests`);
    final[`${who}_${p}_cents`] = new Counter(`chaos_${who}_${p}_cents`);
  }
}

export async function setup() {
  await L.officialSetup();
  await L.setPhase({ default: OK, fallback: OK });
}

function amountText(cents) {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** A client that retries: the same correlationId up to RETRIES more times, and sometimes again after a 2xx. */
export async function payments() {
  const id = crypto.randomUUID();
  const cents = 1 + Math.floor(Math.random() * 99999); // 0.01 .. 999.99
  const text = amountText(cents);
  let ok = false;
  let ambiguous = false; // a timeout or a 5xx: the backend may have taken it
  for (let attempt = 0; attempt <= RETRIES && !ok; attempt++) {
    if (attempt > 0) {
      retried.add(1);
      sleep(0.2);
    }
    const res = await L.postPayment(id, text);
    if (L.isSuccess(res)) ok = true;
    else if (res.status === 0 || res.status >= 500) ambiguous = true;
  }
  if (ok) {
    L.metrics.success.add(1);
    L.metrics.failure.add(0);
    accepted.add(1);
    acceptedCents.add(cents);
    if (Math.random() < RESEND_RATE) {
      resent.add(1);
      await L.postPayment(id, text); // its answer does not matter; it must not be paid twice
    }
  } else {
    L.metrics.success.add(0);
    L.metrics.failure.add(1);
    if (ambiguous) {
      unconfirmed.add(1);
      unconfirmedCents.add(cents);
    } else {
      rejected.add(1);
    }
  }
  sleep(1);
}

export async function consistency() {
  await L.consistencyIteration(2000);
}

/** One windowed check, counts AND amounts, every WINDOW_CHECK_S. */
export async function windowCheck() {
  const began = Date.now();
  const now = Date.now();
  const from = new Date(now - 15000).toISOString();
  const to = new Date(now - 2000).toISOString();
  const [b, d, f] = await Promise.all([L.backendSummary(from, to), L.processorSummary("default", from, to),
    L.processorSummary("fallback", from, to)]);
  const phase = phaseAt((now - exec.scenario.startTime) / 1000);
  const tags = { phase };
  windows.checks.add(1, tags);
  if (!(b.ok && d.ok && f.ok)) {
    windows.errors.add(1, tags);
  } else {
    let n = 0;
    let cents = 0;
    for (const [p, s] of [["default", d], ["fallback", f]]) {
      n += Math.abs(b[p].totalRequests - s.totalRequests);
      cents += Math.abs(D.cents(b[p].totalAmount) - D.cents(s.totalAmount));
    }
    if (n > 0 || cents > 0) {
      windows.mismatches.add(1, tags);
      windows.countDiff.add(n, tags);
      windows.centsDiff.add(cents, tags);
      console.warn(`window mismatch (${phase}, t=${((now - exec.scenario.startTime) / 1000).toFixed(1)}s) ` +
        `[${from}, ${to}]: backend ${key(b)} vs processors ${d.totalRequests}/${D.str(d.totalAmount)}/` +
        `${f.totalRequests}/${D.str(f.totalAmount)} (count/amount default, then fallback)`);
    }
  }
  const wait = WINDOW_CHECK_S - (Date.now() - began) / 1000;
  if (wait > 0) sleep(wait);
}

export async function chaosTimeline() {
  const start = exec.scenario.startTime;
  for (const [at, d, f, what] of timeline()) {
    const wait = (start + at * 1000 - Date.now()) / 1000;
    if (wait > 0) sleep(wait);
    await L.setPhase({ default: d, fallback: f });
    if (what) console.info(`chaos t=${at}s: ${what} (default ${d[0]} ms${d[1] ? " failing" : ""}, fallback ${f[0]} ms${f[1] ? " failing" : ""})`);
  }
  timelineCompleted.add(1);
}

function same(b, d, f) {
  return b.ok && d.ok && f.ok &&
    b.default.totalRequests === d.totalRequests && D.cmp(b.default.totalAmount, d.totalAmount) === 0 &&
    b.fallback.totalRequests === f.totalRequests && D.cmp(b.fallback.totalAmount, f.totalAmount) === 0;
}

function key(b) {
  return `${b.default.totalRequests}/${D.str(b.default.totalAmount)}/${b.fallback.totalRequests}/${D.str(b.fallback.totalAmount)}`;
}

export async function teardown() {
  // As the final: the score's totals from the processors when the load stops.
  await L.recordProcessorTotals(LOAD_S + 120);
  // Then both healthy, and wait until the backend's summary equals the processors' and stays so.
  await L.setPhase({ default: OK, fallback: OK });
  const t0 = Date.now();
  let stable = 0;
  let last = "";
  let b, d, f;
  while (true) {
    [b, d, f] = await Promise.all([L.backendSummary(), L.processorSummary("default"), L.processorSummary("fallback")]);
    const k = key(b);
    stable = same(b, d, f) && k === last ? stable + 1 : 0;
    last = k;
    if (stable >= 3 || Date.now() - t0 > SETTLE_S * 1000) break;
    sleep(1);
  }
  const ok = stable >= 3;
  console.info(`settle: ${ok ? "settled" : "NOT settled"} after ${((Date.now() - t0) / 1000).toFixed(1)} s; backend ${key(b)}`);
  settle.settled.add(ok ? 1 : 0);
  settle.ms.add(Date.now() - t0);
  for (const p of L.PROCESSORS) {
    final[`backend_${p}_requests`].add(b[p].totalRequests);
    final[`backend_${p}_cents`].add(D.cents(b[p].totalAmount));
  }
  for (const [p, s] of [["default", d], ["fallback", f]]) {
    final[`processor_${p}_requests`].add(s.totalRequests);
    final[`processor_${p}_cents`].add(D.cents(s.totalAmount));
  }
}

/** The verification after the settle period: nothing lost, nothing booked twice. */
function verification(data) {
  const c = (n) => L.count(data, n);
  const side = (who) => {
    const o = {};
    for (const p of L.PROCESSORS) o[p] = { num_pagamentos: c(`chaos_${who}_${p}_requests`), total: D.num(D.fromCents(c(`chaos_${who}_${p}_cents`))) };
    return o;
  };
  const backend = side("backend");
  const processors = side("processor");
  const acceptedN = c("chaos_accepted");
  const acceptedAmount = D.fromCents(c("chaos_accepted_cents"));
  const unconfirmedN = c("chaos_unconfirmed");
  const bookedN = processors.default.num_pagamentos + processors.fallback.num_pagamentos;
  const bookedAmount = D.fromCents(c("chaos_processor_default_cents") + c("chaos_processor_fallback_cents"));
  const backendEqualsProcessors = L.PROCESSORS.every((p) =>
    backend[p].num_pagamentos === processors[p].num_pagamentos && backend[p].total === processors[p].total);
  const windowsChecked = c("chaos_window_checks");
  const windowsMismatched = c("chaos_window_mismatches");
  const perPhase = {};
  for (const ph of PHASES) {
    const checked = c(`chaos_window_checks{phase:${ph}}`);
    if (checked) perPhase[ph] = { verificadas: checked, divergentes: c(`chaos_window_mismatches{phase:${ph}}`) };
  }
  const lost = Math.max(0, acceptedN - bookedN);
  const twice = Math.max(0, bookedN - acceptedN - unconfirmedN);
  const settled = c("chaos_settled") > 0;
  const amountsExact = unconfirmedN > 0 || D.cmp(bookedAmount, acceptedAmount) === 0;
  const problems = [];
  const whole = c("chaos_timeline_completed") > 0;
  if (!whole) {
    problems.push("the load was cut short (the test aborted before its last phase): payments whose POST was " +
      "out then were never counted as accepted, so 'duplicados' may count them");
  }
  if (!settled) problems.push(`the backend did not settle within ${SETTLE_S} s`);
  if (!backendEqualsProcessors) problems.push("backend summary != processors' admin totals");
  if (lost) problems.push(`${lost} accepted payments were never booked`);
  if (twice) problems.push(`${twice} payments booked more than once (or never accepted)`);
  if (!amountsExact) problems.push(`booked amount ${D.str(bookedAmount)} != accepted amount ${D.str(acceptedAmount)}`);
  if (windowsMismatched) {
    const where = Object.entries(perPhase).filter(([, v]) => v.divergentes).map(([k, v]) => `${k} ${v.divergentes}`);
    problems.push(`${windowsMismatched} of ${windowsChecked} windows [now-15 s, now-2 s] mismatched (${where.join(", ")})`);
  }
  return {
    ok: problems.length === 0,
    problemas: problems,
    carga_completa: whole,
    estabilizou: settled,
    tempo_estabilizacao_s: c("chaos_settle_ms") / 1000,
    aceitos: { num_pagamentos: acceptedN, total: D.num(acceptedAmount) },
    nao_confirmados: { num_pagamentos: unconfirmedN, total: D.num(D.fromCents(c("chaos_unconfirmed_cents"))),
      descricao: "no 2xx after retries, but a timeout or 5xx: the backend may have taken them" },
    recusados: c("chaos_rejected"),
    reenviados: c("chaos_resent"),
    novas_tentativas: c("chaos_retries"),
    backend,
    processadores: processors,
    perdidos: lost,
    duplicados: twice,
    janelas: {
      verificadas: windowsChecked,
      divergentes: windowsMismatched,
      inconsistencias: c("chaos_window_count_diff"),
      diferenca_centavos: c("chaos_window_cents_diff"),
      erros: c("chaos_window_errors"),
      por_fase: perPhase,
      descricao: `Every ${WINDOW_CHECK_S} s during the load: backend vs processors over [now-15 s, now-2 s], counts ` +
        "and amounts; 'inconsistencias' sums |Δ count| as the official check does, 'diferenca_centavos' |Δ amount| in cents.",
    },
    descricao: "After the load, both processors healthy: the backend's summary must equal the processors' " +
      "admin totals, and both must equal the payments answered 2xx (each correlationId once).",
  };
}

export function handleSummary(data) {
  const result = L.officialResult(data, { maxVUs: MAX_REQUESTS, scenario: "chaos" });
  const v = verification(data);
  result.verificacao = v;
  const text = `   settle: ${v.estabilizou ? "settled" : "NOT settled"} in ${v.tempo_estabilizacao_s} s; accepted ${v.aceitos.num_pagamentos} ` +
    `(${v.nao_confirmados.num_pagamentos} unconfirmed, ${v.reenviados} re-sent), booked default ` +
    `${v.processadores.default.num_pagamentos} + fallback ${v.processadores.fallback.num_pagamentos}\n` +
    `   windows [now-15 s, now-2 s] every ${WINDOW_CHECK_S} s: ${v.janelas.divergentes} of ${v.janelas.verificadas} ` +
    `mismatched (Δ count ${v.janelas.inconsistencias}, Δ cents ${v.janelas.diferenca_centavos}, ${v.janelas.erros} failed)\n` +
    `   verification: ${v.ok ? "OK - nothing lost, nothing booked twice" : "FAILED - " + v.problemas.join("; ")}\n`;
  return L.summaryOutputs(data, result, "chaos-results.json", text);
}
