// The official final test (rinha-test/rinha-final.js) as docs/rinha-spec.md §4 describes it: 300 s,
// 1 -> 603 VUs, 20.05 per payment, consistency checked on [now-15 s, now-2 s], totals from the
// processors' admin summaries over the last 360 s.
// Run: k6 run test/rinha-final.js (parameters: see rinha-lib.js; tools/bench final does it all).

import * as L from "./rinha-lib.js";

const MAX_REQUESTS = L.maxRequests(603);
const AMOUNT = "20.05";

// [start s, default [delay ms, failing], fallback [delay ms, failing]]
const PHASES = [
  [1, [0, false], [0, false]],
  [30, [1000, false], [0, false]],
  [60, [500, false], [0, false]],
  [90, [2000, true], [1000, false]],
  [120, [5000, true], [5, false]],
  [150, [0, false], [5, true]],
  [180, [100, false], [5, false]],
  [210, [50, false], [0, false]],
  [240, [103, false], [10, false]],
  [270, [2000, false], [0, false]],
];

export const options = L.officialOptions({ durationS: 300, maxVUs: MAX_REQUESTS, phases: PHASES });

export const setup = L.officialSetup;
export const define_stage = L.defineStage;

export async function payments() {
  await L.paymentIteration(AMOUNT);
}

export async function consistency() {
  await L.consistencyIteration(2000, L.INCONSISTENCY_RULE.final);
}

export async function teardown() {
  await L.recordProcessorTotals(360);
}

export function handleSummary(data) {
  const result = L.officialResult(data, { maxVUs: MAX_REQUESTS, scenario: "final" });
  return L.summaryOutputs(data, result, "final-results.json");
}
