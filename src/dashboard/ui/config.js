// The Istio Config page (Kiali's Istio Config): every resource, its YAML, and what `weft analyze` and status say about it.
import { get } from './api.js';
import { h, table } from './dom.js';
import { toYaml } from './yaml.js';

const keyOf = (r) => `${r.kind}/${r.metadata?.namespace ?? r.namespace}/${r.metadata?.name ?? r.name}`;

/** Problems about one resource: analyzer findings, validation messages and False conditions, without repeats. */
function problems(resource, findings) {
  const seen = new Set();
  const codes = new Set();
  const out = [];
  const add = (severity, code, message, hint) => {
    if (seen.has(`${code} ${message}`)) return;
    seen.add(`${code} ${message}`);
    codes.add(code);
    out.push({ severity, code, message, hint });
  };
  for (const f of findings) add('warning', f.code, f.field ? `${f.field}: ${f.message}` : f.message, f.hint);
  for (const m of resource.status?.validationMessages ?? [])
    add('warning', m.code, m.field ? `${m.field}: ${m.message}` : m.message);
  const conditions = [
    ...(resource.status?.conditions ?? []),
    ...(resource.status?.parents ?? []).flatMap((p) => p.conditions ?? []),
  ];
  for (const c of conditions)
    if (c.status === 'False' && !codes.has(c.reason))
      add(c.type === 'Accepted' ? 'error' : 'warning', `${c.type}: ${c.reason}`, c.message ?? '');
  return out;
}

function detail(resource, list) {
  const { status: _status, ...stored } = resource;
  return h(
    'div',
    { class: 'panel', 'data-detail': keyOf(resource) },
    h('h2', null, `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}`),
    list.length
      ? list.map((p) =>
          h(
            'div',
            { class: `finding ${p.severity}`, 'data-code': p.code },
            h('strong', null, `${p.severity === 'error' ? '✖' : '⚠'} ${p.code}`),
            ` ${p.message}`,
            p.hint ? h('div', { class: 'muted' }, `Fix: ${p.hint}`) : null,
          ),
        )
      : h('p', { class: 'ok' }, '✔ No validation issues.'),
    h('h2', null, 'YAML'),
    h('pre', { tabindex: 0, 'aria-label': 'Resource YAML' }, toYaml(stored)),
  );
}

export async function render([kind, namespace, name], signal) {
  const [resources, analysis] = await Promise.all([
    get('/api/v1/resources', signal),
    get('/api/v1/analyze', signal),
  ]);
  const findingsOf = new Map();
  for (const f of analysis.findings) findingsOf.set(keyOf(f), [...(findingsOf.get(keyOf(f)) ?? []), f]);
  const rows = resources.items.map((r) => ({
    resource: r,
    key: keyOf(r),
    problems: problems(r, findingsOf.get(keyOf(r)) ?? []),
  }));
  const selected = rows.find((r) => r.key === `${kind}/${namespace}/${name}`);
  const list = table(
    [
      { label: 'Kind', cell: (r) => r.resource.kind },
      { label: 'Namespace', cell: (r) => r.resource.metadata.namespace },
      { label: 'Name', cell: (r) => r.resource.metadata.name },
      {
        label: 'Configuration',
        cell: (r) =>
          r.problems.length
            ? h(
                'span',
                { class: r.problems.some((p) => p.severity === 'error') ? 'bad' : 'warn' },
                `⚠ ${r.problems.length} issue${r.problems.length > 1 ? 's' : ''}`,
              )
            : h('span', { class: 'ok' }, '✔ Valid'),
      },
    ],
    rows,
    (r) => {
      location.hash = `#/config/${r.key.split('/').map(encodeURIComponent).join('/')}`;
    },
  );
  for (const [i, tr] of [...list.querySelectorAll('tbody tr')].entries()) {
    tr.dataset.key = `cfg:${rows[i].key}`;
    tr.dataset.resource = rows[i].key;
    if (rows[i] === selected) tr.setAttribute('aria-current', 'true');
  }
  const total = rows.reduce((n, r) => n + r.problems.length, 0);
  return h(
    'div',
    null,
    h(
      'h1',
      null,
      'Istio Config ',
      h(
        'span',
        { class: 'muted' },
        `(${rows.length} resources, ${total} issue${total === 1 ? '' : 's'}, revision ${resources.revision})`,
      ),
    ),
    h(
      'div',
      { class: 'layout2' },
      h(
        'div',
        null,
        rows.length ? list : h('p', { class: 'empty' }, 'No resources applied yet (weft apply -f FILE).'),
      ),
      selected
        ? detail(selected.resource, selected.problems)
        : h('p', { class: 'empty' }, 'Choose a resource to see its YAML and validation.'),
    ),
  );
}
