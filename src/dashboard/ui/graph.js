// The service graph page (Kiali's "app graph"): services and the calls between them, laid out in columns by call depth.
import { currentWindow, get } from './api.js';
import { activate, h, health, ms, percent, rps, s, shortHost } from './dom.js';

const NODE_W = 170;
const NODE_H = 50;
const COLUMN_GAP = 220;
const ROW_GAP = 36;
const MARGIN = 24;

/** A workload whose name is a service's (productpage → productpage.default.svc...) is drawn as that service. */
function foldWorkloads(nodes) {
  const services = new Map();
  for (const node of nodes)
    if (node.kind === 'service') services.set(`${node.namespace}/${node.name}`, node.id);
  const target = new Map();
  for (const node of nodes)
    target.set(
      node.id,
      node.kind === 'workload' ? (services.get(`${node.namespace}/${node.name}`) ?? node.id) : node.id,
    );
  return target;
}

/** Edges between drawn nodes, calls of the same pair merged (requests-weighted success rate, slowest percentiles). */
function mergeEdges(edges, target) {
  const merged = new Map();
  for (const edge of edges) {
    const from =
      target.get(`workload:${edge.source.namespace}/${edge.source.workload}`) ??
      `workload:${edge.source.namespace}/${edge.source.workload}`;
    const to = `service:${edge.destination.service}`;
    const key = `${from} ${to}`;
    const m = merged.get(key) ?? {
      key,
      from,
      to,
      edges: [],
      requests: 0,
      rps: 0,
      failed: 0,
      p50Ms: null,
      p99Ms: null,
      mtls: true,
      destination: edge.destination,
    };
    m.edges.push(edge);
    m.requests += edge.requests;
    m.rps += edge.rps;
    m.failed += edge.requests * (1 - (edge.successRate ?? 1));
    m.p50Ms = Math.max(m.p50Ms ?? 0, edge.p50Ms ?? 0) || m.p50Ms;
    m.p99Ms = Math.max(m.p99Ms ?? 0, edge.p99Ms ?? 0) || m.p99Ms;
    if (edge.mtls !== true) m.mtls = false;
    merged.set(key, m);
  }
  for (const m of merged.values()) m.successRate = m.requests > 0 ? 1 - m.failed / m.requests : null;
  return [...merged.values()];
}

/** Column of each node: the longest call chain reaching it (cycles stop after as many steps as there are nodes). */
function ranks(ids, edges) {
  const rank = new Map(ids.map((id) => [id, 0]));
  for (let pass = 0; pass < ids.length; pass++) {
    let changed = false;
    for (const e of edges)
      if (e.from !== e.to && rank.get(e.to) < rank.get(e.from) + 1 && rank.get(e.from) + 1 < ids.length) {
        rank.set(e.to, rank.get(e.from) + 1);
        changed = true;
      }
    if (!changed) break;
  }
  return rank;
}

function layout(nodes, edges) {
  const rank = ranks(
    nodes.map((n) => n.id),
    edges,
  );
  const columns = [];
  for (const node of nodes) (columns[rank.get(node.id)] ??= []).push(node);
  const place = new Map();
  let height = 0;
  columns.forEach((column, c) => {
    column.sort((a, b) => a.label.localeCompare(b.label));
    column.forEach((node, r) => {
      place.set(node.id, { x: MARGIN + c * (NODE_W + COLUMN_GAP), y: MARGIN + r * (NODE_H + ROW_GAP) });
      height = Math.max(height, MARGIN * 2 + (r + 1) * (NODE_H + ROW_GAP));
    });
  });
  const width = MARGIN * 2 + Math.max(1, columns.length) * (NODE_W + COLUMN_GAP) - COLUMN_GAP;
  return { place, width, height: Math.max(height, 160) };
}

function edgePath(a, b) {
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const x2 = b.x;
  const y2 = b.y + NODE_H / 2;
  if (x2 > x1) {
    const dx = (x2 - x1) / 2;
    return {
      d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2 - 6},${y2}`,
      mx: (x1 + x2) / 2,
      my: (y1 + y2) / 2,
    };
  }
  // A call back to an earlier column: loop under the nodes.
  const low = Math.max(a.y, b.y) + NODE_H + ROW_GAP * 0.8;
  return {
    d: `M${a.x + NODE_W / 2},${a.y + NODE_H} C${a.x + NODE_W / 2},${low} ${b.x + NODE_W / 2},${low} ${b.x + NODE_W / 2},${b.y + NODE_H + 6}`,
    mx: (a.x + b.x + NODE_W) / 2,
    my: low - 6,
  };
}

function serviceHref(node) {
  return `#/service/${encodeURIComponent(node.namespace)}/${encodeURIComponent(node.name)}`;
}

function drawNode(node, at) {
  const title = `${node.label}: ${rps(node.inbound?.rps)} rps in, success ${percent(node.inbound?.successRate)}`;
  const go = () => {
    if (node.kind === 'service') location.hash = serviceHref(node);
  };
  return s(
    'g',
    {
      class: `node ${node.kind}`,
      transform: `translate(${at.x},${at.y})`,
      'data-key': node.id,
      role: 'link',
      'aria-label': title,
      ...(node.kind === 'service' ? activate(go) : { tabindex: 0 }),
    },
    s('title', null, title),
    s('rect', { width: NODE_W, height: NODE_H, rx: node.kind === 'service' ? 22 : 6 }),
    s('text', { x: 14, y: 21 }, node.label.length > 22 ? `${node.label.slice(0, 21)}…` : node.label),
    s(
      'text',
      { x: 14, y: 39, class: 'sub' },
      node.kind === 'service' ? `service · ${node.namespace}` : `workload · ${node.namespace}`,
    ),
  );
}

function drawEdge(edge, place) {
  const { d, mx, my } = edgePath(place.get(edge.from), place.get(edge.to));
  const state = edge.requests > 0 ? health(edge.successRate) : 'idle';
  const label = `${rps(edge.rps)} rps · ${percent(edge.successRate)}${edge.mtls ? ' · mTLS' : ''}`;
  const title = `${edge.fromLabel} → ${edge.toLabel}: ${rps(edge.rps)} rps, success ${percent(edge.successRate)}, p50 ${ms(edge.p50Ms)}, p99 ${ms(edge.p99Ms)}, ${edge.mtls ? 'mTLS' : 'no mTLS'}`;
  const go = () => {
    location.hash = serviceHref(edge.destination);
  };
  return s(
    'g',
    {
      class: `edge ${state}`,
      'data-key': edge.key,
      'data-edge': `${edge.fromLabel}>${edge.toLabel}`,
      'data-rps': edge.rps,
      'data-success': edge.successRate ?? '',
      role: 'link',
      'aria-label': title,
      ...activate(go),
    },
    s('title', null, title),
    s('path', { class: 'hit', d }),
    s('path', { class: 'line', d, 'marker-end': 'url(#arrow)' }),
    s('text', { x: mx, y: my - 8, 'text-anchor': 'middle' }, label),
  );
}

export async function render(_params, signal) {
  const graph = await get(`/api/v1/telemetry/graph?window=${currentWindow()}`, signal);
  const target = foldWorkloads(graph.nodes);
  const shown = graph.nodes
    .filter((n) => target.get(n.id) === n.id)
    .map((n) => ({ ...n, label: n.kind === 'service' ? shortHost(n.name) : n.name }));
  const labels = new Map(shown.map((n) => [n.id, n.label]));
  const edges = mergeEdges(graph.edges, target).filter((e) => labels.has(e.from) && labels.has(e.to));
  for (const e of edges) Object.assign(e, { fromLabel: labels.get(e.from), toLabel: labels.get(e.to) });
  const header = h(
    'h1',
    null,
    `Traffic graph `,
    h('span', { class: 'muted' }, `(last ${graph.windowSeconds}s)`),
  );
  if (shown.length === 0)
    return h(
      'div',
      null,
      header,
      h(
        'p',
        { class: 'empty' },
        'No traffic seen yet: the graph fills in once proxies report requests (every scrape interval).',
      ),
    );
  const { place, width, height } = layout(shown, edges);
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'group',
      'aria-label': 'Service graph: Tab moves between services and edges, Enter opens one',
    },
    s(
      'defs',
      null,
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z' }),
      ),
    ),
    edges.map((e) => drawEdge(e, place)),
    shown.map((n) => drawNode(n, place.get(n.id))),
  );
  return h(
    'div',
    null,
    header,
    h(
      'p',
      { class: 'muted' },
      'Edge labels: requests per second · success rate · mTLS when the calls are mutual TLS. Green ≥ 99% success, amber ≥ 95%, red below. Solid boxes are services, dashed ones workloads with no service.',
    ),
    h('div', { class: 'panel graph' }, svg),
  );
}
