// The dashboard's shell: hash routes to pages, refreshes the shown page every few seconds, keeps focus across refreshes.
import { h } from './dom.js';

/** Each page module exports `render(params, signal)` → a Node; `live` pages are re-rendered every REFRESH_MS. */
const PAGES = {
  graph: { load: () => import('./graph.js'), live: true, windowed: true, title: 'Graph' },
  services: { load: () => import('./services.js'), live: true, windowed: true, title: 'Services' },
  service: {
    load: () => import('./service.js'),
    live: true,
    windowed: true,
    title: 'Service',
    nav: 'services',
  },
  proxies: { load: () => import('./proxies.js'), live: true, title: 'Proxies' },
  config: { load: () => import('./config.js'), live: true, title: 'Istio Config' },
  tap: { load: () => import('./tap.js'), live: false, title: 'Tap' },
};

const REFRESH_MS = 5000;
const main = document.getElementById('main');
const status = document.getElementById('status');
let current = { token: 0, controller: undefined, timer: undefined, cleanup: undefined };

function parseRoute() {
  const [name, ...params] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return PAGES[name] ? { name, params } : { name: 'graph', params: [] };
}

function setStatus(text, error = false) {
  status.textContent = text;
  status.classList.toggle('error', error);
}

const FOCUSABLE = 'a[href], button, input, select, [tabindex]:not([tabindex="-1"])';

/**
 * Replaces the page's content, then puts the focus back where it was: on the element with the
 * same data-key (a service, an edge, a row), else on the focusable element at the same place.
 */
function swap(node) {
  const active = main.contains(document.activeElement) ? document.activeElement : undefined;
  const key = active?.closest('[data-key]')?.getAttribute('data-key');
  const index = active ? [...main.querySelectorAll(FOCUSABLE)].indexOf(active) : -1;
  main.replaceChildren(node);
  const target = key
    ? main.querySelector(`[data-key="${CSS.escape(key)}"]`)
    : index >= 0
      ? main.querySelectorAll(FOCUSABLE)[index]
      : undefined;
  target?.focus({ preventScroll: true });
}

async function refresh(route, page, module, token) {
  const controller = new AbortController();
  current.controller = controller;
  try {
    const node = await module.render(route.params, controller.signal);
    if (token !== current.token) return;
    swap(node);
    setStatus(page.live ? `Updated ${new Date().toLocaleTimeString()}` : '');
  } catch (err) {
    if (token !== current.token || controller.signal.aborted) return;
    setStatus(`Refresh failed: ${err.message}`, true);
    if (!main.firstChild) main.replaceChildren(h('p', { class: 'empty' }, err.message));
  }
  if (page.live && token === current.token)
    current.timer = setTimeout(() => refresh(route, page, module, token), REFRESH_MS);
}

async function show() {
  clearTimeout(current.timer);
  current.controller?.abort();
  current.cleanup?.();
  const token = current.token + 1;
  current = { token, controller: undefined, timer: undefined, cleanup: undefined };
  const route = parseRoute();
  const page = PAGES[route.name];
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === (page.nav ?? route.name)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.title} · weft`;
  // The time range applies to the traffic pages only.
  document.querySelector('label.window').hidden = !page.windowed;
  main.replaceChildren(h('p', { class: 'empty' }, 'Loading…'));
  const module = await page.load();
  if (token !== current.token) return;
  current.cleanup = module.cleanup;
  await refresh(route, page, module, token);
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', show);
document.getElementById('window').addEventListener('change', show);
show();
