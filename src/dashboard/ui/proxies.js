// The proxies page (`weft proxy-status`, Kiali's workload proxy status): xDS sync per type, last NACK, cert expiry, uptime.
import { get } from './api.js';
import { duration, h, table } from './dom.js';

const TYPES = ['CDS', 'LDS', 'EDS', 'RDS', 'SDS'];

function syncCell(state) {
  const cls = state === 'SYNCED' ? 'ok' : state === 'NACK' ? 'bad' : state === 'STALE' ? 'warn' : 'muted';
  return h('span', { class: `badge ${cls}` }, state ?? '-');
}

function expiry(iso) {
  if (!iso) return '-';
  const left = (Date.parse(iso) - Date.now()) / 1000;
  return h(
    'span',
    { class: left < 3600 ? 'warn' : null, title: iso },
    left > 0 ? `in ${duration(left)}` : 'expired',
  );
}

export async function render(_params, signal) {
  const { proxies } = await get('/api/v1/telemetry/proxies', signal);
  const synced = proxies.filter((p) =>
    TYPES.every((t) => !p.sync[t] || p.sync[t] === 'SYNCED' || p.sync[t] === 'NOT SENT'),
  ).length;
  const list = table(
    [
      { label: 'Proxy', cell: (p) => p.name },
      { label: 'Workload', cell: (p) => `${p.workload}.${p.namespace}` },
      { label: 'Version', cell: (p) => p.version || '-' },
      { label: 'Role', cell: (p) => p.role },
      ...TYPES.map((t) => ({ label: t, cell: (p) => syncCell(p.sync[t]) })),
      {
        label: 'Last NACK',
        cell: (p) =>
          p.lastNack
            ? h(
                'span',
                { class: 'bad', title: p.lastNack.at },
                `${p.lastNack.version}: ${p.lastNack.message}`,
              )
            : '-',
      },
      { label: 'Cert expiry', cell: (p) => expiry(p.certificateExpiry) },
      { label: 'Uptime', num: true, cell: (p) => duration(p.uptimeSeconds) },
    ],
    proxies,
  );
  for (const [i, tr] of [...list.querySelectorAll('tbody tr')].entries()) {
    tr.dataset.proxy = proxies[i].name;
    tr.dataset.key = `proxy:${proxies[i].nodeId}`;
    tr.tabIndex = 0;
  }
  return h(
    'div',
    null,
    h('h1', null, 'Proxies ', h('span', { class: 'muted' }, `(${synced} of ${proxies.length} synced)`)),
    proxies.length ? list : h('p', { class: 'empty' }, 'No proxy is connected to this control plane.'),
  );
}
