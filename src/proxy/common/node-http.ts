// node:http through require, not as an ES module: keeps Node's bundled undici out of a sidecar.
//
// The ES module namespace of node:http reads every export, and its lazy getters (WebSocket,
// MessageEvent, ...) then load Node's bundled undici: ~10 MB resident that a sidecar never uses
// (docs/design/sidecar-memory.md).
import type httpModule from 'node:http';
import { createRequire } from 'node:module';

/** The node:http module (`http.createServer`, `http.get`, ...), without Node's bundled undici. */
export const http: typeof httpModule = createRequire(import.meta.url)('node:http');
