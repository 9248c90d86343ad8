// The tap page (`linkerd viz tap`): a live stream of requests for a chosen service, over Server-Sent Events.
import { h, ms, shortHost } from './dom.js';

const MAX_ROWS = 300;
let source;

/** Closes the stream when the user leaves the page (app.js calls it). */
export function cleanup() {
  source?.close();
  source = undefined;
}

function row(r) {
  const status = Number(r.status);
  return h(
    'tr',
    { tabindex: 0 },
    h('td', null, new Date(r.time).toLocaleTimeString()),
    h('td', null, r.reporter === 'source' ? 'outbound' : 'inbound'),
    h('td', null, `${r.source?.workload ?? '-'}.${r.source?.namespace ?? '-'}`),
    h(
      'td',
      null,
      `${shortHost(r.destination?.service)}${r.destination?.version && r.destination.version !== 'unknown' ? ` (${r.destination.version})` : ''}`,
    ),
    h('td', null, r.method),
    h('td', null, r.path),
    h(
      'td',
      { class: `num ${status >= 500 || !status ? 'bad' : status >= 400 ? 'warn' : 'ok'}` },
      String(r.status),
    ),
    h('td', { class: 'num' }, ms(r.latencyMs)),
    h('td', null, r.flags),
    h('td', null, r.security === 'mutual_tls' ? 'yes' : '-'),
  );
}

function start(form, body, note) {
  cleanup();
  const query = new URLSearchParams();
  for (const field of ['namespace', 'service', 'method', 'path']) {
    const value = form.elements[field].value.trim();
    if (value) query.set(field, value);
  }
  const reporter = form.elements.reporter.value;
  body.replaceChildren();
  note.textContent = 'Connecting…';
  source = new EventSource(`/api/v1/tap?${query}`);
  source.onopen = () => {
    note.textContent = 'Tapping: requests appear as they finish.';
  };
  source.onmessage = (event) => {
    const record = JSON.parse(event.data);
    if (reporter !== 'all' && record.reporter !== reporter) return;
    body.prepend(row(record));
    while (body.childElementCount > MAX_ROWS) body.lastElementChild.remove();
  };
  source.onerror = () => {
    if (source?.readyState === EventSource.CLOSED) {
      note.textContent =
        'The tap was refused or failed: tap needs the operator token or a loopback connection (open the dashboard on the control plane host).';
      cleanup();
    } else note.textContent = 'The stream ended; reconnecting…';
  };
}

export function render() {
  const note = h(
    'p',
    { class: 'muted', role: 'status' },
    'Choose filters and start tapping. Bodies and headers are never shown.',
  );
  const body = h('tbody', { 'aria-live': 'off' });
  const field = (name, label, placeholder) =>
    h('label', null, label, h('input', { name, placeholder, autocomplete: 'off' }));
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Tap filters' },
    field('namespace', 'Namespace', 'default'),
    field('service', 'To service', 'reviews'),
    field('method', 'Method', 'GET'),
    field('path', 'Path prefix', '/'),
    h(
      'label',
      null,
      'Seen by',
      h(
        'select',
        { name: 'reporter' },
        h('option', { value: 'source' }, 'caller (outbound)'),
        h('option', { value: 'destination' }, 'callee (inbound)'),
        h('option', { value: 'all' }, 'both'),
      ),
    ),
    h('button', { type: 'submit' }, 'Start'),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          cleanup();
          note.textContent = 'Stopped.';
        },
      },
      'Stop',
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    start(form, body, note);
  });
  const head = ['Time', 'Direction', 'From', 'To', 'Method', 'Path', 'Status', 'Latency', 'Flags', 'mTLS'];
  return h(
    'div',
    null,
    h('h1', null, 'Tap'),
    form,
    note,
    h(
      'table',
      { 'data-tap': 'true' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          head.map((t) =>
            h('th', { scope: 'col', class: t === 'Status' || t === 'Latency' ? 'num' : null }, t),
          ),
        ),
      ),
      body,
    ),
  );
}
