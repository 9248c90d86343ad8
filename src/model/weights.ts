// Relative weights (Istio's and Gateway API's) as whole percentages adding up to 100, the model's convention.

/**
 * Scales `weights` (each >= 0, at least one > 0) to whole percentages that add up to 100 by the
 * largest-remainder method: 1/1 is 50/50, 1/1/1 is 34/33/33 (earlier entries win ties).
 */
export function toPercentages(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (total === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w * 100) / total);
  const out = exact.map(Math.floor);
  let left = 100 - out.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => ({ i, rest: v - out[i] })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    out[i]++;
    left--;
  }
  return out;
}
