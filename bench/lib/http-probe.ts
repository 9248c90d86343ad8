// One plain HTTP/1.1 GET with a chosen Host header, to check a path works before loading it.
import { request } from 'node:http';

/** GETs http://127.0.0.1:port/ with `Host: host`; 'ok' when the answer is 200 with `expectBytes` of body. */
export function probeHttp(
  port: number,
  host: string | undefined,
  expectBytes: number,
): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        method: 'GET',
        agent: false,
        headers: host ? { host } : {},
        timeout: 5000,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => {
          if (res.statusCode !== 200)
            resolve(`HTTP ${res.statusCode} ${res.headers['x-weft-response-flags'] ?? ''}`);
          else if (bytes !== expectBytes) resolve(`body has ${bytes} bytes, expected ${expectBytes}`);
          else resolve('ok');
        });
        res.on('error', (err) => resolve(err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}
