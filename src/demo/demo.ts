// `weft demo`: a control plane, the ingress gateway and Bookinfo in `weft run` units, started in order and stopped together.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { ApiClient } from '../cli/client.ts';
import { DemoNotReadyError } from '../errors.ts';
import { pickFreePorts } from '../run/ports.ts';
import { DemoChild } from './child.ts';
import { alive, descendants } from './descendants.ts';
import { BOOKINFO_DIR, BOOKINFO_UNITS, INGRESS, START_CONFIG } from './plan.ts';
import { Traffic } from './traffic.ts';

/** The ports of a `weft run` unit, given explicitly by the demo. */
const UNIT_PORT_FLAGS = ['--app-port', '--inbound-port', '--outbound-port', '--admin-port'];

/** Everything the demo needs; src/cli/demo.ts fills it from flags. */
export interface DemoConfig {
  /** Local port of the ingress gateway (the app's URL). */
  port: number;
  /** Control-plane API and xDS listen addresses (`127.0.0.1:0` picks a port). */
  api: string;
  xds: string;
  /** Send light background traffic through the ingress. */
  traffic: boolean;
  /** A directory of its own for the control plane's data and every process's log. */
  dir: string;
  /** How to run weft itself: `[node, bin/weft.js]`. */
  weftCommand: readonly string[];
  /** Environment of every child. */
  env: NodeJS.ProcessEnv;
  /** How long starting may take in all (ms). */
  startTimeoutMs: number;
  /** Writes one line for the user. */
  report: (line: string) => void;
}

/** Where the running demo can be reached. */
export interface DemoUrls {
  /** The product page through the ingress gateway. */
  app: string;
  /** The product API through the ingress gateway (what the traffic generator calls). */
  api: string;
  /** The control plane's HTTP API (`--server`). */
  controlPlane: string;
}

/** Drain timeout of every sidecar and the gateway: the demo stops quickly. */
const DRAIN = '1s';
/** How long a unit or the gateway has after SIGTERM before its group is killed. */
const STOP_TIMEOUT_MS = 10_000;

export class Demo {
  readonly config: DemoConfig;
  readonly #children: DemoChild[] = [];
  readonly #abort = new AbortController();
  #traffic: Traffic | undefined;
  #stopping: Promise<void> | undefined;

  constructor(config: DemoConfig) {
    this.config = config;
  }

  /** Pids of the processes the demo started itself (each leads its own process group). */
  get pids(): number[] {
    return this.#children.map((c) => c.pid);
  }

  #weft(name: string, args: string[], logName: string, env: NodeJS.ProcessEnv = {}): Promise<DemoChild> {
    const [node, ...weft] = this.config.weftCommand;
    return DemoChild.start({
      name,
      command: node,
      args: [...weft, ...args],
      env: { ...this.config.env, ...env },
      logFile: join(this.config.dir, `${logName}.log`),
    }).then((child) => {
      this.#children.push(child);
      return child;
    });
  }

  /** Waits for a child's ready line; a child that exits or stays silent fails the start with its log. */
  async #ready(child: DemoChild, pattern: RegExp, deadline: number): Promise<RegExpMatchArray> {
    const result = await child.waitFor(pattern, Math.max(0, deadline - Date.now()), this.#abort.signal);
    if (result.outcome === 'ready') return result.match;
    if (result.outcome === 'aborted')
      throw new DemoNotReadyError('the demo was stopped while it was starting');
    const what = result.outcome === 'exited' ? 'exited' : 'was not ready in time';
    throw new DemoNotReadyError(
      `${child.name} (pid ${child.pid}) ${what}; the end of its log (${child.logFile}):\n${child.tail()}`,
    );
  }

  /** Starts everything, in order; on failure stops what started and rethrows. */
  async start(): Promise<DemoUrls> {
    try {
      return await this.#start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async #start(): Promise<DemoUrls> {
    const c = this.config;
    const deadline = Date.now() + c.startTimeoutMs;
    const controlPlane = await this.#weft(
      'the control plane',
      ['control-plane', '--data-dir', join(c.dir, 'data'), '--api', c.api, '--xds', c.xds],
      'control-plane',
    );
    const [, server] = await this.#ready(controlPlane, /weft control-plane ready: api (\S+)/, deadline);
    c.report(`control plane ready: ${server}`);

    const client = new ApiClient(server);
    for (const file of START_CONFIG) {
      const text = await readFile(join(BOOKINFO_DIR, file), 'utf8');
      await client.apply([{ file: `examples/bookinfo/${file}`, text }]);
      c.report(`applied examples/bookinfo/${file}`);
    }

    const gateway = this.#weft(
      `the ingress gateway (${INGRESS.name})`,
      [
        'gateway',
        '--name',
        INGRESS.name,
        '--namespace',
        INGRESS.namespace,
        ...INGRESS.labels.flatMap((l) => ['--label', l]),
        '--port',
        `${INGRESS.serverPort}=${c.port}`,
        '--server',
        server,
        '--drain-timeout',
        DRAIN,
      ],
      'ingress-gateway',
    );
    // Every unit's four ports are chosen here at once (held together, so all distinct): units that
    // each probed for free ports while starting side by side could pick a port another was about to bind.
    const ports = await pickFreePorts(BOOKINFO_UNITS.length * UNIT_PORT_FLAGS.length);
    const units = BOOKINFO_UNITS.map((u, i) =>
      this.#weft(
        `${u.service} ${u.version} (weft run)`,
        [
          'run',
          '--server',
          server,
          '--service',
          u.service,
          '--version',
          u.version,
          '--drain-timeout',
          DRAIN,
          ...UNIT_PORT_FLAGS.flatMap((flag, j) => [flag, String(ports[i * UNIT_PORT_FLAGS.length + j])]),
          '--',
          c.weftCommand[0],
          join(BOOKINFO_DIR, u.file),
        ],
        `${u.service}-${u.version}`,
        { SERVICE_VERSION: u.version },
      ),
    );
    const started = await Promise.all([gateway, ...units]);
    await Promise.all([
      this.#ready(started[0], /weft gateway ready:/, deadline),
      ...started.slice(1).map((unit) => this.#ready(unit, /listening on/, deadline)),
    ]);
    c.report(`ingress gateway and ${BOOKINFO_UNITS.length} Bookinfo units ready`);

    const urls: DemoUrls = {
      app: `http://localhost:${c.port}/productpage`,
      api: `http://127.0.0.1:${c.port}/api/v1/products/0`,
      controlPlane: server,
    };
    await this.#answers(urls.api, deadline);
    if (c.traffic)
      this.#traffic = new Traffic({ url: urls.api, perSecond: 2, reportEveryMs: 10_000, report: c.report });
    return urls;
  }

  /** Waits until the product page answers through the ingress with reviews (the whole path works). */
  async #answers(url: string, deadline: number): Promise<void> {
    let last = 'no answer yet';
    while (Date.now() < deadline && !this.#abort.signal.aborted) {
      try {
        const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
        const text = await res.body.text();
        if (
          res.statusCode === 200 &&
          (JSON.parse(text) as { reviews?: { version?: string } }).reviews?.version
        )
          return;
        last = `HTTP ${res.statusCode} ${text.slice(0, 160)}`;
      } catch (err) {
        last = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new DemoNotReadyError(
      `the product page did not answer through the ingress gateway at ${url} (last: ${last}); the logs are in ${this.config.dir}`,
    );
  }

  /**
   * Stops everything: the traffic, the units and the gateway (SIGTERM: each drains), then the
   * control plane; then kills whatever any of them left behind. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#abort.abort();
    await this.#traffic?.stop();
    // Everything below the demo, before its parents go (orphans would leave this tree).
    const tree = new Set(descendants(process.pid));
    const [controlPlane, ...rest] = this.#children;
    await Promise.all(rest.map((child) => child.stop(STOP_TIMEOUT_MS)));
    await controlPlane?.stop(STOP_TIMEOUT_MS);
    for (const pid of [...tree, ...descendants(process.pid)])
      if (alive(pid))
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone in the meantime.
        }
  }

  /** Last resort when the demo itself is exiting: SIGKILL every group it started, synchronously. */
  kill(): void {
    for (const child of this.#children) child.kill();
  }
}
