// The services list (Kiali's Services, `linkerd viz stat`): golden signals per destination service.
import { currentWindow, get } from './api.js';
import { h, health, ms, percent, rps, table } from './dom.js';

export async function render(_params, signal) {
  const stat = await get(`/api/v1/telemetry/stat?kind=svc&window=${currentWindow()}`, signal);
  const columns = [
    {
      label: 'Service',
      cell: (r) =>
        h(
          'a',
          {
            href: `#/service/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`,
            tabindex: -1,
          },
          r.name,
        ),
    },
    { label: 'Namespace', cell: (r) => r.namespace },
    { label: 'RPS', num: true, cell: (r) => rps(r.rps) },
    {
      label: 'Success',
      num: true,
      cell: (r) => h('span', { class: health(r.successRate) }, percent(r.successRate)),
    },
    { label: 'P50', num: true, cell: (r) => ms(r.p50Ms) },
    { label: 'P95', num: true, cell: (r) => ms(r.p95Ms) },
    { label: 'P99', num: true, cell: (r) => ms(r.p99Ms) },
    {
      label: 'Versions',
      cell: (r) =>
        Object.entries(r.versions ?? {})
          .map(([v, n]) => `${v}: ${n}`)
          .join(', '),
    },
  ];
  const rows = stat.rows.map((r) => ({ ...r }));
  const list = table(columns, rows, (r) => {
    location.hash = `#/service/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`;
  });
  for (const [i, tr] of [...list.querySelectorAll('tbody tr')].entries())
    tr.dataset.key = `svc:${rows[i].namespace}/${rows[i].name}`;
  return h(
    'div',
    null,
    h('h1', null, 'Services ', h('span', { class: 'muted' }, `(last ${stat.windowSeconds}s)`)),
    rows.length ? list : h('p', { class: 'empty' }, 'No requests seen in this time range.'),
  );
}
