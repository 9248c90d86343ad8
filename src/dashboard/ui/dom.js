// DOM and formatting helpers for the dashboard: elements are built with text nodes only (never innerHTML).

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Appends children (strings become text nodes; null/false are skipped) to `node`. */
function append(node, children) {
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  return node;
}

/** An HTML element: h('td', {class: 'num'}, '12'). */
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** Runs `action` on click and on Enter/Space, so rows and graph items work from the keyboard. */
export function activate(action) {
  return {
    tabindex: 0,
    onclick: action,
    onkeydown: (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        action();
      }
    },
  };
}

/** A table with a header row and one row per item; `onRow` makes rows focusable and clickable. */
export function table(columns, rows, onRow) {
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((row) =>
        h(
          'tr',
          onRow ? activate(() => onRow(row)) : null,
          columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(row))),
        ),
      ),
    ),
  );
}

export function rps(value) {
  if (value === null || value === undefined) return '-';
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function percent(value) {
  if (value === null || value === undefined) return '-';
  return `${(value * 100).toFixed(value >= 0.9995 || value === 0 ? 0 : 1)}%`;
}

export function ms(value) {
  if (value === null || value === undefined) return '-';
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

/** ok / warn / bad for a success rate, as Kiali colours edges (below 99%: degraded, below 95%: failing). */
export function health(successRate) {
  if (successRate === null || successRate === undefined) return 'idle';
  return successRate >= 0.99 ? 'ok' : successRate >= 0.95 ? 'warn' : 'bad';
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** A short service name: reviews.default.svc.cluster.local → reviews. */
export function shortHost(host) {
  return String(host ?? '')
    .replace(/\.svc\.cluster\.local$|\.svc\..*$/, '')
    .replace(/\.default$/, '');
}
