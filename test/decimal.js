// Exact decimals for the score arithmetic: a value is { u: BigInt units, s: digits after the point }.
// No float ever touches money: amounts, fee rates and percentages are parsed from their decimal
// text and multiplied as integers. Rounding is half-up (away from zero), as big.js's default.

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** From a decimal string, a JS number (its shortest round-trip text) or a BigInt. */
export function dec(value) {
  if (typeof value === "bigint") return { u: value, s: 0 };
  if (value && typeof value === "object" && typeof value.u === "bigint") return value;
  const text = String(value).trim();
  const m = DECIMAL.exec(text);
  if (!m || (m[2] || "") + (m[3] || "") === "") throw new Error(`not a decimal: ${value}`);
  let scale = (m[3] || "").length - (m[4] ? parseInt(m[4], 10) : 0);
  let u = BigInt((m[2] || "") + (m[3] || "") || "0");
  if (scale < 0) {
    u *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { u: m[1] === "-" ? -u : u, s: scale };
}

function rescale(a, s) {
  return s === a.s ? a.u : a.u * 10n ** BigInt(s - a.s);
}

export function add(a, b) {
  a = dec(a);
  b = dec(b);
  const s = Math.max(a.s, b.s);
  return { u: rescale(a, s) + rescale(b, s), s };
}

export function sub(a, b) {
  b = dec(b);
  return add(a, { u: -b.u, s: b.s });
}

export function mul(a, b) {
  a = dec(a);
  b = dec(b);
  return { u: a.u * b.u, s: a.s + b.s };
}

export function cmp(a, b) {
  const d = sub(a, b).u;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function max(a, b) {
  return cmp(a, b) >= 0 ? dec(a) : dec(b);
}

/** Rounds to `places` digits after the point, half away from zero. */
export function round(a, places) {
  a = dec(a);
  if (a.s <= places) return { u: rescale(a, places), s: places };
  const div = 10n ** BigInt(a.s - places);
  const neg = a.u < 0n;
  const abs = neg ? -a.u : a.u;
  let q = abs / div;
  if ((abs % div) * 2n >= div) q += 1n;
  return { u: neg ? -q : q, s: places };
}

/** Plain decimal text with no trailing zeros ("17", "0.35", "1949876.38"). */
export function str(a) {
  a = dec(a);
  const neg = a.u < 0n;
  let digits = (neg ? -a.u : a.u).toString();
  if (a.s > 0) {
    digits = digits.padStart(a.s + 1, "0");
    let int = digits.slice(0, digits.length - a.s);
    let frac = digits.slice(digits.length - a.s).replace(/0+$/, "");
    digits = frac ? `${int}.${frac}` : int;
  }
  return (neg && digits !== "0" ? "-" : "") + digits;
}

/** The nearest JS number (for the result JSON, as big.js's toNumber()). */
export function num(a) {
  return Number(str(a));
}

/** Integer cents of a 2-place amount, as a JS number (exact below 2^53); throws if not 2-place. */
export function cents(a) {
  const r = round(a, 2);
  if (cmp(r, a) !== 0) throw new Error(`amount with more than 2 decimal places: ${str(a)}`);
  return Number(r.u);
}

/** An amount given in integer cents. */
export function fromCents(c) {
  return { u: BigInt(c), s: 2 };
}

/** Parses JSON keeping every number as its exact decimal text (strings), e.g. for summaries. */
export function parseJSONExact(body) {
  const quoted = String(body).replace(/([:\[,]\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,}\]])/g, '$1"$2"');
  return JSON.parse(quoted);
}
