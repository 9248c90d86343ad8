// Test helper: a steady request loop through a sidecar's outbound port that counts every failed request.
import http from 'node:http';

/** What a load loop saw. */
export interface LoadResult {
  ok: number;
  /** Failed requests: status line and body start, or the socket error. */
  failures: string[];
}

/** A running loop; `stop()` waits for requests in flight and returns the tally. */
export interface LoadLoop {
  stop(): Promise<LoadResult>;
  /** Requests answered 200 so far. */
  ok(): number;
}

/**
 * Sends GETs to `127.0.0.1:port` with `headers` (Host names the mesh service), `concurrency` at a
 * time, back to back, until stopped. Anything but a 200 is a failure.
 */
export function startLoad(port: number, headers: Record<string, string>, concurrency = 2): LoadLoop {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failures: [] };
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) result.ok++;
          else result.failures.push(`${res.statusCode} ${body.slice(0, 120)}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        result.failures.push(`error ${err.message}`);
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.end();
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    ok: () => result.ok,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}
