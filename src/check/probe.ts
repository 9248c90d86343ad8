// The control plane as `weft check` sees it: each API path fetched at most once and shared by the checks.
import { type ApiAnswer, apiGet } from './http.ts';

export class ControlPlaneProbe {
  readonly server: string;
  readonly #timeoutMs: number;
  readonly #answers = new Map<string, Promise<ApiAnswer>>();

  constructor(server: string, timeoutMs: number) {
    this.server = server;
    this.#timeoutMs = timeoutMs;
  }

  /** The answer to `GET path` (the first one; later calls share it). Rejects with ApiUnreachable. */
  get(path: string): Promise<ApiAnswer> {
    let answer = this.#answers.get(path);
    if (!answer) {
      answer = apiGet(this.server, path, this.#timeoutMs);
      this.#answers.set(path, answer);
    }
    return answer;
  }

  /** A fresh `GET path`, for checks that wait for something to change. */
  refetch(path: string): Promise<ApiAnswer> {
    this.#answers.delete(path);
    return this.get(path);
  }
}
