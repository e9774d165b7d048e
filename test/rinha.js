// The official preview test (rinha-test/rinha.js) as docs/rinha-spec.md §4 describes it: 60 s, 1 -> 550 VUs,
// 19.90 per payment, consistency checked on [now-15 s, now-1.5 s], totals from the backend's own
// summary over the last 70 s, fees at the processors' feePerTransaction; inconsistencies per check
// |Δdefault + Δfallback| (rinha-lib.js inconsistencies).
// Run: k6 run test/rinha.js (parameters: see rinha-lib.js; tools/bench preview does it all).

import * as L from "./rinha-lib.js";

const MAX_REQUESTS = L.maxRequests(550);
const AMOUNT = "19.90";

// [start s, default [delay ms, failing], fallback [delay ms, failing]]
const PHASES = [
  [1, [0, false], [0, false]],
  [10, [100, false], [0, false]],
  [20, [100, true], [0, false]],
  [30, [2000, true], [1000, true]],
  [40, [20, false], [20, false]],
  [50, [0, false], [5000, false]],
];

export const options = L.officialOptions({ durationS: 60, maxVUs: MAX_REQUESTS, phases: PHASES });

export const setup = L.officialSetup;
export const define_stage = L.defineStage;

export async function payments() {
  await L.paymentIteration(AMOUNT);
}

// The official preview counts |Δdefault + Δfallback| per check (the final: |Δdefault| + |Δfallback|).
export async function consistency() {
  await L.consistencyIteration(1500, L.INCONSISTENCY_RULE.preview);
}

export async function teardown() {
  await L.recordBackendTotals(70);
}

export function handleSummary(data) {
  const result = L.officialResult(data, { maxVUs: MAX_REQUESTS, scenario: "preview" });
  return L.summaryOutputs(data, result, "partial-results.json");
}
