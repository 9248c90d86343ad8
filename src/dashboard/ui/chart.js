// A small time-series line chart drawn as inline SVG (no library): one polyline per series, min/max labels.
import { h, s } from './dom.js';

const W = 420;
const H = 150;
const PAD = { left: 48, right: 8, top: 8, bottom: 20 };

/**
 * `series`: [{name, points: [[t, value|null]]}]; `format` labels the y axis; `yMax` fixes the top
 * (e.g. 1 for a success rate), else the largest value.
 */
export function lineChart({ title, series, format, yMin = 0, yMax }) {
  const all = series.flatMap((x) => x.points);
  const ts = all.map((p) => p[0]);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts);
  const values = all.map((p) => p[1]).filter((v) => v !== null);
  const top = yMax ?? Math.max(1e-9, ...values) * 1.1;
  const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - yMin) / Math.max(1e-9, top - yMin)) * (H - PAD.top - PAD.bottom);
  const lines = series.map((one, i) => {
    // Gaps (no requests in an interval) break the line instead of drawing zero.
    const runs = [[]];
    for (const [t, v] of one.points) {
      if (v === null) runs.push([]);
      else runs.at(-1).push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    }
    return runs
      .filter((r) => r.length > 0)
      .map((r) =>
        s('polyline', { class: `s${i}`, points: r.length === 1 ? `${r[0]} ${r[0]}` : r.join(' ') }),
      );
  });
  const last = series.map((one) => one.points.filter((p) => p[1] !== null).at(-1)?.[1] ?? null);
  const summary = `${title}: ${series.map((one, i) => `${one.name} ${format(last[i])}`).join(', ')} (latest)`;
  const time = (t) =>
    Number.isFinite(t) ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  return h(
    'figure',
    { class: 'panel chart', 'data-chart': title },
    h(
      'figcaption',
      null,
      h('strong', null, title),
      ' ',
      h(
        'span',
        { class: 'legend' },
        series.map((one, i) => h('span', { class: `k${i}` }, `■ ${one.name} ${format(last[i])}`)),
      ),
    ),
    s(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary },
      s('line', { class: 'axis', x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
      s('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
      s('text', { x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end' }, format(top)),
      s('text', { x: PAD.left - 4, y: H - PAD.bottom, 'text-anchor': 'end' }, format(yMin)),
      s('text', { x: PAD.left, y: H - 4 }, time(t0)),
      s('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end' }, time(t1)),
      lines,
    ),
  );
}
