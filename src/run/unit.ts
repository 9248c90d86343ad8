// A unit: one sidecar and one app run together, started in order, signalled together, stopped in order.
import { AppExposedError, SidecarNotReadyError } from '../errors.ts';
import { appEnvironment } from './app-env.ts';
import { type Capture, type CaptureSpec, installCapture } from './capture-rules.ts';
import { type ChildExit, describeExit, exitCodeOf, UnitChild } from './child.ts';
import { listeningOn } from './exposure.ts';
import { NodeWorkload } from './node-workload.ts';
import { waitForReady } from './ready.ts';

/** The four ports of a unit, all fixed before anything starts. */
export interface UnitPorts {
  /** The app listens here (`PORT`); the sidecar's inbound listener forwards to it. */
  app: number;
  inbound: number;
  /** The app's HTTP proxy (`HTTP_PROXY`). */
  outbound: number;
  /** The sidecar's admin port (`/ready`). */
  admin: number;
}

/** Everything `weft run` needs; built by src/cli/run.ts from its flags. */
export interface UnitConfig {
  service: string;
  namespace: string;
  version: string;
  ports: UnitPorts;
  /** Flags for `weft proxy` other than the four ports (`--service`, `--server`, labels, ...). */
  proxyFlags: string[];
  /** How to run weft itself: `[process.execPath, 'bin/weft.js']`. */
  weftCommand: string[];
  /** The app: executable and arguments. */
  command: string[];
  /** Environment both processes inherit (the app's gets PORT, HTTP_PROXY, ... on top). */
  inheritedEnv: NodeJS.ProcessEnv;
  /** How long the sidecar may take to answer 200 on admin `/ready` (ms). */
  readyTimeoutMs: number;
  /** The sidecar's drain timeout (ms); the unit waits that long plus a margin before SIGKILL. */
  drainTimeoutMs: number;
  /** When the sidecar dies: how long the app has after SIGTERM before SIGKILL (ms). */
  appStopTimeoutMs: number;
  /** Writes one line for the user (stderr). */
  report: (line: string) => void;
  /** The control plane's API URL (`--server`), probed to say why the sidecar is not ready. */
  server: string;
  /** Only warn (instead of stopping the unit) when the app listens beyond loopback. */
  allowExposedApp: boolean;
  /** Resolves to why the control plane cannot be reached, or undefined when it answers. */
  probeServer: (server: string) => Promise<string | undefined>;
  /** Transparent capture: rules installed before the app starts (it runs as `appGid`), removed when the unit ends. */
  capture?: CaptureSpec;
  /** Node mode (`--node URL`): the node agent at this URL serves the workload instead of a sidecar process. */
  node?: string;
}

/** The sidecar half of a unit: a `weft proxy` process, or a workload on a node agent. */
type UnitSidecar = Pick<UnitChild, 'pid' | 'exit' | 'exited' | 'stop' | 'kill'>;

/** What ended the unit. */
export type UnitOutcome =
  | 'app-exited'
  | 'sidecar-died'
  | 'app-not-started'
  | 'signalled-before-start'
  | 'app-exposed';

/** The unit's result: the exit code `weft run` must exit with, and why. */
export interface UnitResult {
  outcome: UnitOutcome;
  exitCode: number;
  /** The sidecar's pid, so tests can check it is gone (node mode: the agent's, which stays). */
  sidecarPid: number;
  appPid?: number;
}

/** Signals `weft run` forwards to the app. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Extra time past the drain timeout before a stopping sidecar is killed. */
const SIDECAR_STOP_MARGIN_MS = 5000;

/** How often the app's port is checked until the app listens on it. */
const EXPOSURE_POLL_MS = 200;

/** Exit code when the sidecar died under a running app (the app's own code is not what failed). */
export const SIDECAR_DIED_EXIT_CODE = 1;

export class Unit {
  readonly config: UnitConfig;
  #sidecar: UnitSidecar | undefined;
  #app: UnitChild | undefined;
  /** The first signal received before the app started. */
  #early: NodeJS.Signals | undefined;
  readonly #startAbort = new AbortController();
  #capture: Capture | undefined;

  constructor(config: UnitConfig) {
    this.config = config;
  }

  /** Runs the unit to its end. Rejects with SidecarNotReadyError (after cleaning up) if the sidecar never got ready. */
  async run(): Promise<UnitResult> {
    const onSignal = (signal: NodeJS.Signals) => this.#onSignal(signal);
    for (const s of FORWARDED_SIGNALS) process.on(s, onSignal);
    const lastResort = () => {
      this.#app?.kill();
      this.#sidecar?.kill();
    };
    process.on('exit', lastResort);
    try {
      return await this.#run();
    } finally {
      await this.#capture?.remove();
      for (const s of FORWARDED_SIGNALS) process.off(s, onSignal);
      process.off('exit', lastResort);
    }
  }

  #onSignal(signal: NodeJS.Signals): void {
    if (this.#app) {
      this.#app.signal(signal);
      return;
    }
    this.#early ??= signal;
    this.#startAbort.abort();
  }

  async #run(): Promise<UnitResult> {
    const c = this.config;
    const sidecar = await this.#startSidecar();
    if ('message' in sidecar) throw new SidecarNotReadyError(sidecar.message);
    this.#sidecar = sidecar;
    sidecar.exited.then(() => this.#startAbort.abort());

    const adminReady = `http://127.0.0.1:${c.ports.admin}/ready`;
    const ready = await waitForReady(adminReady, c.readyTimeoutMs, this.#startAbort.signal);
    if (this.#early && !sidecar.exit) {
      // Told to stop before the app started: there is nothing to drain for.
      await this.#stopSidecar();
      const exitCode = exitCodeOf({ code: null, signal: this.#early });
      return { outcome: 'signalled-before-start', exitCode, sidecarPid: sidecar.pid };
    }
    if (ready.outcome !== 'ready') {
      const exited = sidecar.exit !== undefined;
      // A sidecar still waiting is most often waiting for its control plane: name that cause.
      const unreachable = exited ? undefined : await c.probeServer(c.server);
      const exit = sidecar.exit ?? (await this.#stopSidecar());
      const why = exited
        ? `it exited with ${describeExit(exit)} before it was ready (its error is above)`
        : unreachable
          ? `it was still waiting for the control plane at ${c.server}, which does not answer (${unreachable}); start it (weft control-plane) or point --server / WEFT_SERVER at it`
          : `its admin ${adminReady} did not answer 200 within ${c.readyTimeoutMs / 1000}s (last answer: ${ready.last}); check the mesh with weft check`;
      throw new SidecarNotReadyError(`the sidecar (${this.#sidecarName()}) did not become ready: ${why}`);
    }

    if (c.capture) {
      this.#capture = await installCapture(c.capture).catch(async (err: unknown) => {
        await this.#stopSidecar();
        throw err;
      });
    }
    const [executable, ...args] = c.command;
    c.report(
      `weft run: sidecar ready (${c.node ? `node agent ${c.node}, ` : ''}pid ${sidecar.pid}, ${c.service}.${c.namespace} ${c.version}: inbound :${c.ports.inbound} → app :${c.ports.app}, outbound 127.0.0.1:${c.ports.outbound}, admin 127.0.0.1:${c.ports.admin}${c.capture?.dnsPort !== undefined ? `, mesh DNS 127.0.0.1:${c.capture.dnsPort}` : ''}); starting ${c.command.join(' ')}`,
    );
    const app = await UnitChild.start({
      name: 'the app',
      command: executable,
      args,
      env: appEnvironment(c.inheritedEnv, {
        appPort: c.ports.app,
        outboundPort: c.ports.outbound,
        service: c.service,
        namespace: c.namespace,
        version: c.version,
      }),
      stdio: 'inherit',
      ...(c.capture ? { gid: c.capture.appGid } : {}),
    });
    if (!(app instanceof UnitChild)) {
      c.report(`weft run: ${app.message}`);
      await this.#stopSidecar();
      // What a shell answers for a command it cannot find or run.
      return {
        outcome: 'app-not-started',
        exitCode: app.outcome === 'not-found' ? 127 : 126,
        sidecarPid: sidecar.pid,
      };
    }
    this.#app = app;
    // A signal that arrived while the sidecar was starting is delivered to the app now.
    if (this.#early) app.signal(this.#early);

    const first = await Promise.race([
      app.exited.then((exit) => ({ who: 'app' as const, exit })),
      sidecar.exited.then((exit) => ({ who: 'sidecar' as const, exit })),
      this.#watchExposure(app).then((addresses) => ({ who: 'exposed' as const, addresses })),
    ]);
    if (first.who === 'exposed') {
      c.report(`weft run: stopping the app (pid ${app.pid}) and the sidecar`);
      await app.stop('SIGTERM', c.appStopTimeoutMs);
      await this.#stopSidecar();
      throw new AppExposedError(
        `the app listens on ${first.addresses.join(', ')} port ${c.ports.app}, beyond loopback: other hosts could reach it around the sidecar; make it listen on HOST (127.0.0.1), or pass --allow-exposed-app to only warn`,
      );
    }
    if (first.who === 'app') {
      app.signal('SIGTERM'); // processes the app left behind in its group
      const stopped = await this.#stopSidecar();
      if (stopped.code !== 0)
        c.report(
          `weft run: the sidecar (${c.node ? this.#sidecarName() : `pid ${sidecar.pid}`}) stopped with ${describeExit(stopped)}`,
        );
      return {
        outcome: 'app-exited',
        exitCode: exitCodeOf(first.exit),
        sidecarPid: sidecar.pid,
        appPid: app.pid,
      };
    }
    c.report(
      `weft run: the sidecar (${c.node ? this.#sidecarName() : `weft proxy, pid ${sidecar.pid}`}) exited with ${describeExit(first.exit)}; stopping the app (pid ${app.pid})`,
    );
    const appExit = await app.stop('SIGTERM', c.appStopTimeoutMs);
    c.report(`weft run: the app stopped with ${describeExit(appExit)}`);
    return {
      outcome: 'sidecar-died',
      exitCode: SIDECAR_DIED_EXIT_CODE,
      sidecarPid: sidecar.pid,
      appPid: app.pid,
    };
  }

  /** Starts the sidecar process, or registers the workload with the node agent (`--node`). */
  #startSidecar(): Promise<UnitSidecar | { message: string }> {
    const c = this.config;
    const args = [
      ...c.proxyFlags,
      ...['--app-port', String(c.ports.app), '--inbound-port', String(c.ports.inbound)],
      ...['--outbound-port', String(c.ports.outbound), '--admin-port', String(c.ports.admin)],
    ];
    if (c.node) return NodeWorkload.start(c.node, args, c.report);
    const [node, ...weft] = c.weftCommand;
    return UnitChild.start({
      name: 'the sidecar',
      command: node,
      args: [...weft, 'proxy', ...args],
      env: c.inheritedEnv,
      // The sidecar's output goes to stderr: stdout belongs to the app (batch jobs pipe it).
      stdio: ['ignore', 2, 2],
    });
  }

  /** How messages name the sidecar. */
  #sidecarName(): string {
    const c = this.config;
    return c.node
      ? `workload ${c.service}.${c.namespace} on the node agent at ${c.node}`
      : `weft proxy --service ${c.service}, pid ${this.#sidecar?.pid}`;
  }

  /**
   * Watches the app's port until the app listens on it: resolves with the addresses when one is
   * beyond loopback (and `allowExposedApp` is off); otherwise never (a warning is reported instead).
   */
  async #watchExposure(app: UnitChild): Promise<string[]> {
    const c = this.config;
    while (app.exit === undefined) {
      const listening = await listeningOn(c.ports.app);
      if (listening === undefined) break; // no procfs: nothing to check with
      if (listening.addresses.length > 0) {
        if (!listening.exposed) break;
        if (!c.allowExposedApp) return listening.addresses;
        c.report(
          `weft run: warning: the app listens on ${listening.addresses.join(', ')} port ${c.ports.app}, beyond loopback: other hosts can reach it around the sidecar (--allow-exposed-app) [WEFT_APP_EXPOSED]`,
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, EXPOSURE_POLL_MS));
    }
    return new Promise<never>(() => {});
  }

  /** SIGTERM (the sidecar drains), then SIGKILL after the drain timeout plus a margin. */
  #stopSidecar(): Promise<ChildExit> {
    const sidecar = this.#sidecar as UnitSidecar;
    return sidecar.stop('SIGTERM', this.config.drainTimeoutMs + SIDECAR_STOP_MARGIN_MS);
  }
}
