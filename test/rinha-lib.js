// What the preview, final and chaos scripts share: parameters, the calls of the official
// requests.js (same paths, headers and 1500 ms timeouts), the counters the result is built from,
// and the score arithmetic of docs/rinha-spec.md §4 in exact decimals.
//
// Parameters (environment): BACKEND_URL, PROCESSOR_DEFAULT_URL, PROCESSOR_FALLBACK_URL, TOKEN (the
// processors' current admin token), NEW_TOKEN (what setup() sets; default TOKEN, as in our runs),
// MAX_REQUESTS, RESULT_FILE, K6_SUMMARY_FILE (k6's raw summary data, optional), PARTICIPANT.

import http from "k6/http";
import exec from "k6/execution";
import { sleep } from "k6";
import { Counter } from "k6/metrics";
import * as D from "./decimal.js";

export const BACKEND_URL = __ENV.BACKEND_URL || "http://localhost:9999";
export const PROCESSOR_URLS = {
  default: __ENV.PROCESSOR_DEFAULT_URL || "http://localhost:8001",
  fallback: __ENV.PROCESSOR_FALLBACK_URL || "http://localhost:8002",
};
export const INITIAL_TOKEN = __ENV.TOKEN || "123";
export const TOKEN = __ENV.NEW_TOKEN || INITIAL_TOKEN;
export const PROCESSORS = ["default", "fallback"];
const TIMEOUT = "1500ms";
const SUCCESS = [200, 201, 202, 204];

export function maxRequests(fallback) {
  const n = parseInt(__ENV.MAX_REQUESTS || String(fallback), 10);
  if (!(n >= 1)) throw new Error(`MAX_REQUESTS must be a positive integer, got ${__ENV.MAX_REQUESTS}`);
  return n;
}

// ---------------------------------------------------------------- counters

// The official names where the official script has one; amounts in integer cents and fee rates in
// billionths, so that a counter's sum (a float64) stays an exact integer.
export const metrics = {
  success: new Counter("transactions_success"),
  failure: new Counter("transactions_failure"),
  inconsistency: new Counter("payments_inconsistency"),
  checks: new Counter("consistency_checks"),
  checkErrors: new Counter("consistency_call_errors"),
  totalsRecorded: new Counter("totals_recorded"),
  requests: { default: new Counter("default_total_requests"), fallback: new Counter("fallback_total_requests") },
  cents: { default: new Counter("default_total_amount_cents"), fallback: new Counter("fallback_total_amount_cents") },
  feeNano: { default: new Counter("default_fee_rate_nano"), fallback: new Counter("fallback_fee_rate_nano") },
};

/** Always-true thresholds: they make k6 keep these sub-metrics for handleSummary. */
export const THRESHOLDS = {
  "http_req_duration{expected_response:true}": ["max>=0"],
  "http_req_duration{kind:payment,expected_response:true}": ["max>=0"],
};

export function count(data, name) {
  const m = data.metrics[name];
  return m ? Math.round(m.values.count) : 0;
}

// ---------------------------------------------------------------- calls (official requests.js)

const JSON_HEADERS = { "Content-Type": "application/json" };

function processorParams(kind, token = TOKEN) {
  return { headers: { ...JSON_HEADERS, "X-Rinha-Token": token }, timeout: TIMEOUT, tags: tags(kind) };
}

// ---------------------------------------------------------------- phases

// Every request carries the phase of the test it was sent in (tag `phase`: "00", "01"...), so that
// handleSummary can give the p99 of each stage of the scenario. The phase follows from the time since
// the test started: each scenario knows its own start (exec.scenario.startTime) and its offset in
// the options, so the clocks of the payments, consistency and stage VUs agree. Requests of setup()
// and teardown() are tagged "setup" and "teardown" (they still count in the overall p99).
let PHASES_S = []; // [{ id, from, to, what }], seconds since the start of the test
const SCENARIO_OFFSET_MS = {};

/** Declares the phases (start times in s, ascending; the first bin starts at 0) and the scenarios' start offsets. */
export function trackPhases(starts, scenarios, durationS, labels = []) {
  PHASES_S = starts.map((from, i) => ({
    id: String(i).padStart(2, "0"),
    from: i === 0 ? 0 : from,
    to: i + 1 < starts.length ? starts[i + 1] : durationS,
    what: labels[i] || "",
  }));
  for (const [name, sc] of Object.entries(scenarios)) SCENARIO_OFFSET_MS[name] = sc.startTime ? parseFloat(sc.startTime) * 1000 : 0;
  return PHASES_S;
}

/** The phase id of a moment `t` seconds after the start of the test (the last phase runs on past the end). */
export function phaseAt(t) {
  let id = PHASES_S.length ? PHASES_S[0].id : "00";
  for (const p of PHASES_S) if (t >= p.from) id = p.id;
  return id;
}

function currentPhase() {
  let name, startTime;
  try {
    name = exec.scenario.name;
    startTime = exec.scenario.startTime;
  } catch (e) {
    return null; // setup() or teardown(): no scenario
  }
  if (!name) return null;
  return phaseAt((Date.now() - startTime + (SCENARIO_OFFSET_MS[name] || 0)) / 1000);
}

let stageOfTest = "setup";
/** Marks the end of the load: requests from now on (teardown) are tagged "teardown". */
export function enterTeardown() {
  stageOfTest = "teardown";
}

function tags(kind) {
  return { kind, phase: currentPhase() || stageOfTest };
}

/** The sub-metrics handleSummary reads per phase (an always-true threshold makes k6 keep each). */
export function phaseThresholds(phases = PHASES_S) {
  const t = {};
  for (const p of phases) t[`http_req_duration{phase:${p.id},expected_response:true}`] = ["max>=0"];
  return t;
}

/** [{ phase, from_s, to_s, what, p99_ms, requests }] of the declared phases, from k6's summary data. */
export function phaseStats(data) {
  return PHASES_S.map((p) => {
    const m = data.metrics[`http_req_duration{phase:${p.id},expected_response:true}`];
    const v = m ? m.values : {};
    return { phase: p.id, from_s: p.from, to_s: p.to, what: p.what,
      p99_ms: v["p(99)"] === undefined ? null : v["p(99)"], requests: v.count === undefined ? 0 : Math.round(v.count) };
  });
}

function abort(msg) {
  console.error(msg);
  exec.test.abort(msg);
}

export async function setProcessorToken(p, token) {
  const r = await http.asyncRequest("PUT", `${PROCESSOR_URLS[p]}/admin/configurations/token`,
    JSON.stringify({ token }), processorParams("admin", INITIAL_TOKEN));
  if (r.status !== 204) abort(`could not set the token of ${p} (HTTP ${r.status})`);
}

export async function setProcessorDelay(p, ms) {
  const r = await http.asyncRequest("PUT", `${PROCESSOR_URLS[p]}/admin/configurations/delay`,
    JSON.stringify({ delay: ms }), processorParams("admin"));
  if (r.status !== 200) abort(`could not set the delay of ${p} (HTTP ${r.status})`);
}

export async function setProcessorFailure(p, failure) {
  const r = await http.asyncRequest("PUT", `${PROCESSOR_URLS[p]}/admin/configurations/failure`,
    JSON.stringify({ failure }), processorParams("admin"));
  if (r.status !== 200) abort(`could not set the failure mode of ${p} (HTTP ${r.status})`);
}

export async function purgeProcessor(p) {
  const r = await http.asyncRequest("POST", `${PROCESSOR_URLS[p]}/admin/purge-payments`, null, processorParams("admin"));
  if (r.status !== 200) abort(`could not purge ${p} (HTTP ${r.status})`);
}

/** Query string as the official test sends it: toISOString() text, not URL-encoded; none if no bounds. */
function windowQuery(from, to) {
  return from === undefined && to === undefined ? "" : `?from=${from}&to=${to}`;
}

/** { totalRequests: int, totalAmount: decimal, feePerTransaction: decimal, ok } (zeros when the call fails, as official). */
export async function processorSummary(p, from, to) {
  const r = await http.asyncRequest("GET", `${PROCESSOR_URLS[p]}/admin/payments-summary${windowQuery(from, to)}`,
    null, processorParams("summary"));
  if (r.status === 200) {
    const s = D.parseJSONExact(r.body);
    return { totalRequests: parseInt(s.totalRequests, 10), totalAmount: D.dec(s.totalAmount),
      feePerTransaction: D.dec(s.feePerTransaction), ok: true };
  }
  console.error(`no answer from ${p} /admin/payments-summary${windowQuery(from, to)} (HTTP ${r.status} ${r.error || ""})`);
  return { totalRequests: 0, totalAmount: D.dec(0), feePerTransaction: D.dec(0), ok: false };
}

export async function purgeBackend() {
  const r = await http.asyncRequest("POST", `${BACKEND_URL}/purge-payments`, null,
    { headers: JSON_HEADERS, timeout: TIMEOUT, tags: tags("admin") });
  if (r.status === 0) console.info(`backend purge-payments: no answer (${r.error}); not a problem`);
}

/** { default: {totalRequests, totalAmount}, fallback: {...}, ok } (zeros when the call fails, as official). */
export async function backendSummary(from, to) {
  const r = await http.asyncRequest("GET", `${BACKEND_URL}/payments-summary${windowQuery(from, to)}`, null,
    { headers: JSON_HEADERS, timeout: TIMEOUT, tags: tags("summary") });
  if (r.status === 200) {
    try {
      const s = D.parseJSONExact(r.body);
      const side = (x) => ({ totalRequests: parseInt(x.totalRequests, 10), totalAmount: D.dec(x.totalAmount) });
      return { default: side(s.default), fallback: side(s.fallback), ok: true };
    } catch (e) {
      console.error(`backend /payments-summary: unreadable answer ${r.body}: ${e}`);
    }
  } else {
    console.error(`no answer from the backend's /payments-summary${windowQuery(from, to)} (HTTP ${r.status} ${r.error || ""})`);
  }
  const zero = () => ({ totalRequests: 0, totalAmount: D.dec(0) });
  return { default: zero(), fallback: zero(), ok: false };
}

/** One POST /payments; `amountText` is the JSON number text of the amount. -> response */
export async function postPayment(correlationId, amountText) {
  return http.asyncRequest("POST", `${BACKEND_URL}/payments`,
    `{"correlationId":"${correlationId}","amount":${amountText}}`,
    { headers: JSON_HEADERS, timeout: TIMEOUT, tags: tags("payment") });
}

export function isSuccess(res) {
  return SUCCESS.includes(res.status);
}

// ---------------------------------------------------------------- the scenarios' bodies

/** setup() of the official scripts: token, purge both processors, purge the backend. */
export async function officialSetup() {
  for (const p of PROCESSORS) await setProcessorToken(p, TOKEN);
  for (const p of PROCESSORS) await purgeProcessor(p);
  await purgeBackend();
  // The scenarios start when setup() ends: the phases' wall-clock windows follow from this.
  return { startedAtMs: Date.now() };
}

/** The closed loop: one payment with a fresh UUID, then sleep(1). */
export async function paymentIteration(amountText) {
  const res = await postPayment(crypto.randomUUID(), amountText);
  if (isSuccess(res)) {
    metrics.success.add(1);
    metrics.failure.add(0);
  } else {
    metrics.success.add(0);
    metrics.failure.add(1);
  }
  sleep(1);
}

/**
 * Inconsistencies of one check, counts only, as the official scripts compute them, with
 * Δ = backend's totalRequests - processor's totalRequests:
 * - "sum-of-abs" (rinha-final.js): |Δdefault| + |Δfallback|;
 * - "abs-of-sum" (rinha.js, the preview): |Δdefault + Δfallback|. A payment booked under the wrong
 *   processor (+1 on one side, -1 on the other) cancels out there.
 */
export function inconsistencies(rule, backend, defaultSummary, fallbackSummary) {
  const dd = backend.default.totalRequests - defaultSummary.totalRequests;
  const df = backend.fallback.totalRequests - fallbackSummary.totalRequests;
  if (rule === "abs-of-sum") return Math.abs(dd + df);
  if (rule === "sum-of-abs") return Math.abs(dd) + Math.abs(df);
  throw new Error(`unknown inconsistency rule ${rule}`);
}

/** One consistency check over [now-15 s, now-toLagMs], counts only (`rule`: see inconsistencies), then sleep(10). */
export async function consistencyIteration(toLagMs, rule = "sum-of-abs") {
  const now = Date.now();
  const from = new Date(now - 15000).toISOString();
  const to = new Date(now - toLagMs).toISOString();
  const [d, f, b] = await Promise.all([
    processorSummary("default", from, to),
    processorSummary("fallback", from, to),
    backendSummary(from, to),
  ]);
  const n = inconsistencies(rule, b, d, f);
  metrics.inconsistency.add(n);
  metrics.checks.add(1);
  metrics.checkErrors.add((d.ok ? 0 : 1) + (f.ok ? 0 : 1) + (b.ok ? 0 : 1));
  if (n > 0) {
    console.warn(`inconsistency ${n} in [${from}, ${to}]: backend default ${b.default.totalRequests} vs processor ` +
      `${d.totalRequests}; backend fallback ${b.fallback.totalRequests} vs processor ${f.totalRequests}`);
  }
  sleep(10);
}

/** Sets both processors as a phase says: { default: [delayMs, failing], fallback: [...] }. */
export async function setPhase(phase) {
  await Promise.all(PROCESSORS.flatMap((p) => [setProcessorDelay(p, phase[p][0]), setProcessorFailure(p, phase[p][1])]));
}

/** The official define_stage: the phase comes from the scenario's tags. */
export async function defineStage() {
  const t = exec.vu.metrics.tags;
  await setProcessorDelay("default", parseInt(t.defaultDelay, 10));
  await setProcessorDelay("fallback", parseInt(t.fallbackDelay, 10));
  await setProcessorFailure("default", t.defaultFailure === "true");
  await setProcessorFailure("fallback", t.fallbackFailure === "true");
  sleep(1);
}

// ---------------------------------------------------------------- options

/** The official options: payments ramp, 1-VU consistency, and one 1-VU scenario per phase. */
export function officialOptions({ durationS, maxVUs, phases, consistencyExec = "consistency" }) {
  const scenarios = {
    payments: {
      exec: "payments", executor: "ramping-vus", startVUs: 1, gracefulRampDown: "0s",
      stages: [{ target: maxVUs, duration: `${durationS}s` }],
    },
    payments_consistency: { exec: consistencyExec, executor: "constant-vus", duration: `${durationS}s`, vus: 1 },
  };
  phases.forEach(([at, d, f], i) => {
    scenarios[`stage_${String(i).padStart(2, "0")}`] = {
      exec: "define_stage", startTime: `${at}s`, executor: "constant-vus", vus: 1, duration: "1s",
      tags: { defaultDelay: String(d[0]), defaultFailure: String(d[1]), fallbackDelay: String(f[0]), fallbackFailure: String(f[1]) },
    };
  });
  const describe = (x) => `${x[0]} ms${x[1] ? " failing" : ""}`;
  trackPhases(phases.map(([at]) => at), scenarios, durationS,
    phases.map(([, d, f]) => `default ${describe(d)}, fallback ${describe(f)}`));
  return { summaryTrendStats: ["p(99)", "count"], thresholds: { ...THRESHOLDS, ...phaseThresholds() }, scenarios };
}

// ---------------------------------------------------------------- totals and the result

/** Records the totals the score is computed from: counts, cents and fee rates, per processor. */
export function recordTotals(totals, rates) {
  for (const p of PROCESSORS) {
    metrics.requests[p].add(totals[p].totalRequests);
    metrics.cents[p].add(D.cents(totals[p].totalAmount));
    const nano = D.round(D.mul(rates[p], 1000000000), 0);
    if (D.cmp(D.mul(rates[p], 1000000000), nano) !== 0) console.warn(`fee rate of ${p} has more than 9 decimals: ${D.str(rates[p])}`);
    metrics.feeNano[p].add(Number(nano.u));
  }
  metrics.totalsRecorded.add(1);
}

/** The teardown of rinha-final.js: processors' admin summaries over the last `windowS` seconds. */
export async function recordProcessorTotals(windowS) {
  enterTeardown();
  const to = new Date();
  const from = new Date(to.getTime() - windowS * 1000);
  console.info(`summaries from ${from.toISOString()} to ${to.toISOString()}`);
  const d = await processorSummary("default", from.toISOString(), to.toISOString());
  const f = await processorSummary("fallback", from.toISOString(), to.toISOString());
  recordTotals({ default: d, fallback: f }, { default: d.feePerTransaction, fallback: f.feePerTransaction });
  return { default: d, fallback: f };
}

/** The teardown of rinha.js (spec): the backend's summary over the last `windowS` s, the processors' fee rates. */
export async function recordBackendTotals(windowS) {
  enterTeardown();
  const to = new Date();
  const from = new Date(to.getTime() - windowS * 1000);
  console.info(`summaries from ${from.toISOString()} to ${to.toISOString()}`);
  const d = await processorSummary("default", from.toISOString(), to.toISOString());
  const f = await processorSummary("fallback", from.toISOString(), to.toISOString());
  const b = await backendSummary(from.toISOString(), to.toISOString());
  recordTotals(b, { default: d.feePerTransaction, fallback: f.feePerTransaction });
}

function p99Of(data, name) {
  const m = data.metrics[name];
  return m && m.values["p(99)"] !== undefined && m.values["p(99)"] !== null ? m.values["p(99)"] : null;
}

/** Which consistency arithmetic each scenario uses (see inconsistencies). */
export const INCONSISTENCY_RULE = { preview: "abs-of-sum", final: "sum-of-abs", chaos: "sum-of-abs" };

/** The official result object (field names of final-results.json), computed exactly. */
export function officialResult(data, { maxVUs, scenario }) {
  const success = count(data, "transactions_success");
  const failure = count(data, "transactions_failure");
  const inconsistencies = count(data, "payments_inconsistency");
  const side = {};
  for (const p of PROCESSORS) {
    const amount = D.fromCents(count(data, `${p}_total_amount_cents`));
    const rate = { u: BigInt(count(data, `${p}_fee_rate_nano`)), s: 9 };
    side[p] = { n: count(data, `${p}_total_requests`), amount, rate, fee: D.mul(rate, amount) };
  }
  const gross = D.add(side.default.amount, side.fallback.amount);
  const fees = D.add(side.default.fee, side.fallback.fee);
  const p99Raw = p99Of(data, "http_req_duration{expected_response:true}");
  const p99 = p99Raw === null ? null : D.round(D.dec(p99Raw), 2);
  const bonus = p99 === null ? D.dec(0) : D.max(D.round(D.mul(D.sub(11, p99), "0.02"), 2), 0);
  const fine = D.dec(inconsistencies > 0 ? "0.35" : "0");
  const net = D.sub(gross, fees);
  const score = D.sub(D.add(net, D.mul(net, bonus)), D.mul(net, fine));
  const booked = side.default.n + side.fallback.n;
  const lag = success - booked;
  const processorPart = (p, who) => ({
    total_bruto: D.num(side[p].amount),
    num_pagamentos: side[p].n,
    total_taxas: D.num(side[p].fee),
    descricao: `Informações do backend sobre solicitações de pagamento para o Payment Processor ${who}.`,
  });
  const p99Payments = p99Of(data, "http_req_duration{kind:payment,expected_response:true}");
  return {
    timestamp: new Date().toISOString(),
    participante: __ENV.PARTICIPANT || "anonymous",
    total_liquido: D.num(score),
    total_bruto: D.num(gross),
    total_taxas: D.num(fees),
    descricao: "'total_liquido' é sua pontuação final. Equivale ao seu lucro. Fórmula: total_liquido + " +
      "(total_liquido * p99.bonus) - (total_liquido * multa.porcentagem)",
    p99: {
      valor: p99 === null ? "n/a" : `${D.str(p99)}ms`,
      bonus: `${D.str(D.mul(bonus, 100))}%`,
      max_requests: maxVUs,
      descricao: "Fórmula para o bônus: max((11 - p99.valor) * 0.02, 0)",
    },
    multa: {
      porcentagem: D.num(fine),
      total: D.num(D.mul(net, fine)),
      composicao: { num_inconsistencias: inconsistencies, descricao: "Se 'num_inconsistencias' > 0, há multa de 35%." },
    },
    caixa_dois: {
      detectado: lag < 0,
      descricao: "Se 'lag' for negativo, significa que seu backend registrou mais pagamentos do que solicitado, " +
        "automaticamente desclassificando sua submissão!",
    },
    lag: {
      num_pagamentos_total: booked,
      num_pagamentos_solicitados: success,
      lag,
      descricao: "Lag é a diferença entre a quantidade de solicitações de pagamentos e o que foi realmente computado " +
        "pelo backend. Mostra a perda de pagamentos possivelmente por estarem enfileirados.",
    },
    pagamentos_solicitados: {
      qtd_sucesso: success,
      qtd_falha: failure,
      descricao: "'qtd_sucesso' foram requests bem sucedidos para 'POST /payments' e 'qtd_falha' os requests com erro.",
    },
    pagamentos_realizados_default: processorPart("default", "Default"),
    pagamentos_realizados_fallback: processorPart("fallback", "Fallback"),
    // Ours, not in the official file: what the numbers above rest on.
    extra: {
      scenario,
      p99_ms_unrounded: p99Raw,
      p99_payments_ms: p99Payments,
      http_requests: count(data, "http_reqs"),
      fee_rate_default: D.str(side.default.rate),
      fee_rate_fallback: D.str(side.fallback.rate),
      consistency_checks: count(data, "consistency_checks"),
      consistency_call_errors: count(data, "consistency_call_errors"),
      totals_recorded: count(data, "totals_recorded") > 0,
      test_run_duration_s: data.state ? Math.round(data.state.testRunDurationMs) / 1000 : null,
      inconsistency_rule: INCONSISTENCY_RULE[scenario] || "sum-of-abs",
      // p99 of the 2xx/3xx requests sent during each phase of the scenario (the official p99's
      // population, binned by the time each request was sent).
      phases: phaseStats(data),
      // Epoch ms at which the scenarios started (phase from_s/to_s are relative to it).
      started_at_ms: data.setup_data && data.setup_data.startedAtMs ? data.setup_data.startedAtMs : null,
    },
  };
}

/** A few lines for stdout. */
export function shortText(r, resultFile) {
  const x = r.extra;
  const lines = [
    "",
    `== ${x.scenario}: score (total_liquido) ${r.total_liquido}`,
    `   p99 ${r.p99.valor} (payments only ${x.p99_payments_ms === null ? "n/a" : x.p99_payments_ms.toFixed(2) + "ms"}), ` +
      `bonus ${r.p99.bonus}, fine ${r.multa.porcentagem * 100}% (${r.multa.composicao.num_inconsistencias} inconsistencies in ${x.consistency_checks} checks)`,
    `   POST /payments: ${r.pagamentos_solicitados.qtd_sucesso} ok, ${r.pagamentos_solicitados.qtd_falha} failed; ` +
      `booked ${r.lag.num_pagamentos_total}, lag ${r.lag.lag}${r.caixa_dois.detectado ? " (CAIXA DOIS: more booked than accepted)" : ""}`,
    `   default ${r.pagamentos_realizados_default.num_pagamentos} payments / ${r.pagamentos_realizados_default.total_bruto}; ` +
      `fallback ${r.pagamentos_realizados_fallback.num_pagamentos} / ${r.pagamentos_realizados_fallback.total_bruto}; ` +
      `gross ${r.total_bruto}, fees ${r.total_taxas}`,
  ];
  if (!x.totals_recorded) lines.push("   WARNING: the totals were never read (teardown did not run): the score is not meaningful");
  if (resultFile) lines.push(`   result: ${resultFile}`);
  return lines.join("\n") + "\n";
}

/** handleSummary's answer: stdout text, the result JSON, and optionally k6's raw summary data. */
export function summaryOutputs(data, result, defaultFile, more = "") {
  const file = __ENV.RESULT_FILE || defaultFile;
  const out = { stdout: shortText(result, file) + more };
  out[file] = JSON.stringify(result, null, 2) + "\n";
  if (__ENV.K6_SUMMARY_FILE) out[__ENV.K6_SUMMARY_FILE] = JSON.stringify(data, null, 2) + "\n";
  return out;
}
