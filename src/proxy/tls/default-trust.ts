// Node's default CA certificates loaded by the first use that needs them, not at a sidecar's start (its mesh contexts carry their own roots).
//
// Node parses its ~120 bundled roots (and NODE_EXTRA_CA_CERTS) on a thread of its own as soon as
// `node:tls` loads, and builds its default store the first time any context adds a CA: ~1.6 MB
// private in every sidecar, whose mesh connections trust only the mesh's roots
// (docs/design/sidecar-memory.md). bin/weft.js re-executes `weft proxy` and `weft node` with
// `--use-openssl-ca` (no such thread) and WEFT_DEFAULT_CA=deferred; `deferDefaultTrust()` then
// leaves the default store empty, and `useDefaultTrust()` fills it with what Node's default is
// (bundled roots and NODE_EXTRA_CA_CERTS) before the first request that verifies against it.
import tls from 'node:tls';
import { environment } from '../../env.ts';

/** The value of WEFT_DEFAULT_CA, set by bin/weft.js, that defers Node's default CA certificates. */
export const DEFERRED = 'deferred';

let deferred = false;

/**
 * At a sidecar's start, before any TLS context: with WEFT_DEFAULT_CA=deferred, Node's default CA
 * store stays empty until `useDefaultTrust()`. Otherwise (the user chose a CA store) does nothing.
 */
export function deferDefaultTrust(setting: string | undefined = environment.defaultCa): void {
  if (setting !== DEFERRED || deferred) return;
  tls.setDefaultCACertificates([]);
  deferred = true;
}

/**
 * Called before anything verifies a peer against Node's default CA certificates (an https request
 * without its own `ca`): loads them, once. Contexts with their own `ca` need no call.
 */
export function useDefaultTrust(): void {
  if (!deferred) return;
  deferred = false;
  tls.setDefaultCACertificates([...tls.getCACertificates('bundled'), ...tls.getCACertificates('extra')]);
}
