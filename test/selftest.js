// Checks of the exact-decimal score arithmetic, no network: k6 run test/selftest.js
// (fails with exit code 108 if any check is wrong).

import exec from "k6/execution";
import * as D from "./decimal.js";
import * as L from "./rinha-lib.js";

export const options = { iterations: 1, vus: 1 };

function eq(what, got, want) {
  if (got !== want) {
    console.error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    return false;
  }
  return true;
}

/** Fake k6 summary data: counter sums and the p99 of the two duration sub-metrics. */
function data(counters, p99) {
  const metrics = {};
  for (const [k, v] of Object.entries(counters)) metrics[k] = { values: { count: v } };
  metrics["http_req_duration{expected_response:true}"] = { values: { "p(99)": p99 } };
  return { metrics, state: { testRunDurationMs: 300000 } };
}

export default function () {
  let ok = true;
  ok &= eq("0.1 + 0.2", D.str(D.add("0.1", "0.2")), "0.3");
  ok &= eq("round half up", D.str(D.round("0.165", 2)), "0.17");
  ok &= eq("round negative", D.str(D.round("-0.165", 2)), "-0.17");
  ok &= eq("round below", D.str(D.round("0.16499", 2)), "0.16");
  ok &= eq("exponent", D.str(D.dec("1.5e-7")), "0.00000015");
  ok &= eq("number text", D.str(D.dec(19.9)), "19.9");
  ok &= eq("cents", D.cents(D.dec("1949876.38")), 194987638);
  ok &= eq("fee", D.str(D.mul("0.07", "1234.55")), "86.4185");
  ok &= eq("exact JSON", D.parseJSONExact('{"a":{"n":3,"x":0.10000000000000001}}').a.x, "0.10000000000000001");
  ok &= eq("exact JSON ISO untouched", D.parseJSONExact('{"t":"2025-07-10T12:34:56.000Z","n":1}').t, "2025-07-10T12:34:56.000Z");

  // The final's winner as published (docs/rinha-spec.md §5): 90,591 payments x 20.05, split 52,945 default
  // (7 %) / 37,646 fallback (10 %), p99 2.55 ms -> 17 % bonus, no fine: 1,949,876.38.
  const r = L.officialResult(data({
    transactions_success: 90591, transactions_failure: 0, payments_inconsistency: 0, totals_recorded: 1,
    default_total_requests: 52945, fallback_total_requests: 37646,
    default_total_amount_cents: 52945 * 2005, fallback_total_amount_cents: 37646 * 2005,
    default_fee_rate_nano: 70000000, fallback_fee_rate_nano: 100000000,
  }, 2.5549), { maxVUs: 603, scenario: "final" });
  ok &= eq("p99", r.p99.valor, "2.55ms");
  ok &= eq("bonus", r.p99.bonus, "17%");
  ok &= eq("gross", r.total_bruto, 1816349.55);
  // fees = 0.07 * 1061547.25 + 0.10 * 754802.30 = 74308.3075 + 75480.23
  ok &= eq("default fee", r.pagamentos_realizados_default.total_taxas, 74308.3075);
  ok &= eq("fallback fee", r.pagamentos_realizados_fallback.total_taxas, 75480.23);
  ok &= eq("fees", r.total_taxas, 149788.5375);
  // net 1666561.0125 * 1.17 = 1949876.384625, published to the cent
  ok &= eq("score", r.total_liquido, 1949876.384625);
  ok &= eq("published score", D.str(D.round(D.dec(r.total_liquido), 2)), "1949876.38");
  ok &= eq("fine", r.multa.porcentagem, 0);
  ok &= eq("lag", r.lag.lag, 0);
  ok &= eq("booked", r.lag.num_pagamentos_total, 90591);
  ok &= eq("caixa dois", r.caixa_dois.detectado, false);
  ok &= eq("final's rule", r.extra.inconsistency_rule, "sum-of-abs");

  // Inconsistencies per check, as the official scripts count them (backend minus processor):
  // the preview (rinha.js) |Δdefault + Δfallback|, the final |Δdefault| + |Δfallback|.
  const side = (d, f) => ({ default: { totalRequests: d }, fallback: { totalRequests: f } });
  const pp = (n) => ({ totalRequests: n });
  const swapped = [side(11, 9), pp(10), pp(10)]; // one payment booked under the other processor
  ok &= eq("preview: swapped sides cancel", L.inconsistencies(L.INCONSISTENCY_RULE.preview, ...swapped), 0);
  ok &= eq("final: swapped sides count twice", L.inconsistencies(L.INCONSISTENCY_RULE.final, ...swapped), 2);
  const missing = [side(8, 10), pp(10), pp(11)]; // three payments not yet booked
  ok &= eq("preview: missing", L.inconsistencies(L.INCONSISTENCY_RULE.preview, ...missing), 3);
  ok &= eq("final: missing", L.inconsistencies(L.INCONSISTENCY_RULE.final, ...missing), 3);
  const mixed = [side(12, 7), pp(10), pp(10)]; // +2 default, -3 fallback
  ok &= eq("preview: mixed", L.inconsistencies("abs-of-sum", ...mixed), 1);
  ok &= eq("final: mixed", L.inconsistencies("sum-of-abs", ...mixed), 5);
  ok &= eq("agree", L.inconsistencies("abs-of-sum", side(4, 5), pp(4), pp(5)) + L.inconsistencies("sum-of-abs", side(4, 5), pp(4), pp(5)), 0);
  ok &= eq("preview's rule", L.INCONSISTENCY_RULE.preview, "abs-of-sum");
  ok &= eq("final's rule name", L.INCONSISTENCY_RULE.final, "sum-of-abs");

  // Phases: a request belongs to the last phase that started before it was sent.
  L.trackPhases([1, 10, 20], { payments: {}, stage_01: { startTime: "10s" } }, 30);
  ok &= eq("phase before the first start", L.phaseAt(0.2), "00");
  ok &= eq("phase at a start", L.phaseAt(10), "01");
  ok &= eq("phase past the end", L.phaseAt(31), "02");

  const fined = L.officialResult(data({
    transactions_success: 10, payments_inconsistency: 3, default_total_requests: 11,
    default_total_amount_cents: 11 * 1990, default_fee_rate_nano: 50000000, fallback_fee_rate_nano: 150000000,
  }, 11.5), { maxVUs: 550, scenario: "selftest" });
  ok &= eq("no bonus above 11 ms", fined.p99.bonus, "0%");
  ok &= eq("fine", fined.multa.porcentagem, 0.35);
  // net = 218.90 - 10.945 = 207.955; fine 72.78425; score 135.17075
  ok &= eq("fine total", fined.multa.total, 72.78425);
  ok &= eq("fined score", fined.total_liquido, 135.17075);
  ok &= eq("caixa dois", fined.caixa_dois.detectado, true);
  ok &= eq("1 ms -> 20 %", L.officialResult(data({}, 1.0), { maxVUs: 1, scenario: "x" }).p99.bonus, "20%");
  ok &= eq("2 ms -> 18 %", L.officialResult(data({}, 2.004), { maxVUs: 1, scenario: "x" }).p99.bonus, "18%");
  if (!ok) exec.test.abort("selftest failed");
  console.log("selftest: all checks passed");
}
