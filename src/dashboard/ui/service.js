// The service page (Kiali's service details): golden signals over time, edges, workloads, config, canary split.
import { currentWindow, get } from './api.js';
import { lineChart } from './chart.js';
import { h, health, ms, percent, rps, shortHost, table } from './dom.js';

function card(label, value, cls) {
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'label' }, label),
    h('div', { class: `value ${cls ?? ''}` }, value),
  );
}

function edgeTable(edges, direction) {
  if (edges.length === 0)
    return h('p', { class: 'empty' }, direction === 'in' ? 'No inbound traffic.' : 'No outbound traffic.');
  const columns = [
    direction === 'in'
      ? { label: 'From', cell: (e) => `${e.source.workload}.${e.source.namespace}` }
      : {
          label: 'To',
          cell: (e) =>
            h(
              'a',
              {
                href: `#/service/${encodeURIComponent(e.destination.namespace)}/${encodeURIComponent(e.destination.name)}`,
              },
              shortHost(e.destination.service),
            ),
        },
    { label: 'Protocol', cell: (e) => e.protocol },
    { label: 'RPS', num: true, cell: (e) => rps(e.rps) },
    {
      label: 'Success',
      num: true,
      cell: (e) => h('span', { class: health(e.successRate) }, percent(e.successRate)),
    },
    { label: 'P50', num: true, cell: (e) => ms(e.p50Ms) },
    { label: 'P99', num: true, cell: (e) => ms(e.p99Ms) },
    { label: 'mTLS', cell: (e) => (e.mtls === true ? 'yes' : e.mtls === false ? 'no' : 'unknown') },
  ];
  const t = table(columns, edges);
  t.dataset.edges = direction;
  return t;
}

/** Configured weights (from the VirtualService) beside the share each version actually served. */
function splitTable(detail) {
  const configured = detail.config.configuredSplit?.weights ?? {};
  const observed = detail.observedSplit ?? {};
  const total = Object.values(observed).reduce((a, b) => a + b, 0);
  const configuredTotal = Object.values(configured).reduce((a, b) => a + b, 0);
  const versions = [...new Set([...Object.keys(configured), ...Object.keys(observed)])].sort();
  if (versions.length === 0)
    return h('p', { class: 'empty' }, 'No versions served requests in this time range.');
  const bar = (share) => h('div', { class: 'bar', role: 'presentation' }, h('div', { 'data-width': share }));
  const t = table(
    [
      { label: 'Version', cell: (v) => v },
      {
        label: 'Configured',
        num: true,
        cell: (v) =>
          configuredTotal ? `${Math.round((100 * (configured[v] ?? 0)) / configuredTotal)}%` : '-',
      },
      {
        label: 'Observed',
        num: true,
        cell: (v) => (total ? `${((100 * (observed[v] ?? 0)) / total).toFixed(1)}%` : '-'),
      },
      { label: 'Requests', num: true, cell: (v) => String(observed[v] ?? 0) },
      { label: '', cell: (v) => bar(total ? (observed[v] ?? 0) / total : 0) },
    ],
    versions,
  );
  for (const [i, tr] of [...t.querySelectorAll('tbody tr')].entries()) {
    tr.dataset.version = versions[i];
    tr.dataset.observed = total ? String((observed[versions[i]] ?? 0) / total) : '';
  }
  // The CSP forbids style attributes: bar widths are set through the CSSOM.
  for (const fill of t.querySelectorAll('[data-width]'))
    fill.style.width = `${Math.round(Number(fill.dataset.width) * 100)}%`;
  t.dataset.split = 'true';
  const from = detail.config.configuredSplit?.from;
  return h(
    'div',
    null,
    from
      ? h('p', { class: 'muted' }, `Configured by ${from.kind} ${from.namespace}/${from.name}.`)
      : h('p', { class: 'muted' }, 'No VirtualService sets weights for this service.'),
    t,
  );
}

function configList(config) {
  const items = [...config.virtualServices, ...config.destinationRules, ...config.policies];
  if (items.length === 0)
    return h(
      'p',
      { class: 'empty' },
      'No VirtualService, DestinationRule or policy applies to this service.',
    );
  return h(
    'ul',
    null,
    items.map((r) =>
      h(
        'li',
        null,
        h(
          'a',
          {
            href: `#/config/${encodeURIComponent(r.kind)}/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`,
          },
          `${r.kind} ${r.namespace}/${r.name}`,
        ),
      ),
    ),
  );
}

export async function render([namespace, name], signal) {
  const detail = await get(
    `/api/v1/telemetry/services/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}?window=${currentWindow()}`,
    signal,
  );
  const points = (field) => detail.series.map((p) => [p.t, p[field]]);
  const sum = detail.summary;
  return h(
    'div',
    null,
    h(
      'h1',
      null,
      `Service ${detail.name}.${detail.namespace} `,
      h('span', { class: 'muted' }, `(last ${detail.windowSeconds}s)`),
    ),
    h(
      'div',
      { class: 'cards' },
      card('Request rate', `${rps(sum.rps)} rps`),
      card('Success rate', percent(sum.successRate), health(sum.successRate)),
      card('P50 latency', ms(sum.p50Ms)),
      card('P95 latency', ms(sum.p95Ms)),
      card('P99 latency', ms(sum.p99Ms)),
      card('Requests', String(sum.requests)),
    ),
    h(
      'div',
      { class: 'charts' },
      lineChart({
        title: 'Request volume',
        series: [{ name: 'rps', points: points('rps') }],
        format: (v) => (v === null ? '-' : `${rps(v)}/s`),
      }),
      lineChart({
        title: 'Success rate',
        series: [{ name: 'success', points: points('successRate') }],
        format: percent,
        yMax: 1,
      }),
      lineChart({
        title: 'Request duration',
        series: [
          { name: 'p50', points: points('p50Ms') },
          { name: 'p95', points: points('p95Ms') },
          { name: 'p99', points: points('p99Ms') },
        ],
        format: ms,
      }),
    ),
    h('h2', null, 'Traffic split: configured vs observed'),
    h('div', { class: 'panel' }, splitTable(detail)),
    h('h2', null, 'Inbound'),
    edgeTable(detail.inbound, 'in'),
    h('h2', null, 'Outbound'),
    edgeTable(detail.outbound, 'out'),
    h('h2', null, 'Workloads'),
    detail.workloads.length
      ? table(
          [
            { label: 'Workload', cell: (w) => w.workload },
            { label: 'Version', cell: (w) => w.version },
            { label: 'Requests', num: true, cell: (w) => String(w.requests) },
          ],
          detail.workloads,
        )
      : h('p', { class: 'empty' }, 'No workload served requests in this time range.'),
    h('h2', null, 'Istio config'),
    h('div', { class: 'panel' }, configList(detail.config)),
  );
}
