// Light background traffic for the demo: a few product pages a second through the ingress, summed up now and then.
import { request } from 'undici';

/** What the traffic generator is told. */
export interface TrafficConfig {
  /** The product API through the ingress, e.g. `http://127.0.0.1:8080/api/v1/products/0`. */
  url: string;
  /** Requests per second (sent one at a time). */
  perSecond: number;
  /** How often a summary line is written (ms). */
  reportEveryMs: number;
  /** Writes one summary line. */
  report: (line: string) => void;
}

/** Which reviews version answered a product page, or why none did. */
async function onePage(url: string): Promise<string> {
  try {
    const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return `HTTP ${res.statusCode}`;
    const page = JSON.parse(text) as { reviews?: { version?: string; error?: string } };
    return page.reviews?.version ? `reviews ${page.reviews.version}` : 'reviews unavailable';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'no answer';
  }
}

/** Sends traffic until `stop()`; reports counts per outcome every `reportEveryMs`. */
export class Traffic {
  readonly #config: TrafficConfig;
  #counts = new Map<string, number>();
  #running = true;
  #timer: NodeJS.Timeout | undefined;
  #done: Promise<void>;

  constructor(config: TrafficConfig) {
    this.#config = config;
    this.#timer = setInterval(() => this.#report(), config.reportEveryMs);
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    const gapMs = 1000 / this.#config.perSecond;
    while (this.#running) {
      const started = Date.now();
      const outcome = await onePage(this.#config.url);
      this.#counts.set(outcome, (this.#counts.get(outcome) ?? 0) + 1);
      const wait = gapMs - (Date.now() - started);
      if (wait > 0 && this.#running) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  #report(): void {
    const counts = [...this.#counts].sort(([a], [b]) => (a < b ? -1 : 1));
    this.#counts = new Map();
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    if (total === 0) return;
    this.#config.report(`traffic: ${total} pages: ${counts.map(([what, n]) => `${n} ${what}`).join(', ')}`);
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearInterval(this.#timer);
    await this.#done;
  }
}
