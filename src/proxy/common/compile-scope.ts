// Which proxy core is compiling configuration right now: state Envoy shares per process is per core here.
//
// One process may run several cores (a `weft node` agent serves one per workload). A filter that
// keeps state across config versions (the local rate limit's token buckets) keys it by the scope
// its config was compiled in, so two workloads never share a bucket. Compilation is synchronous,
// so the scope is simply set around it.

/** The scope of code that compiles outside any core (tests, tools). */
const PROCESS_SCOPE: object = Object.freeze({ name: 'process' });

let current: object = PROCESS_SCOPE;
/** How many times compiled code has asked for its scope (a compilation that did not is the same for every core). */
let reads = 0;

/** Runs `compile` (synchronous) with `scope` as the current compile scope. */
export function compileIn<T>(scope: object, compile: () => T): T {
  const previous = current;
  current = scope;
  try {
    return compile();
  } finally {
    current = previous;
  }
}

/** The scope of the compilation in progress (the process's own scope outside any core). */
export function compileScope(): object {
  reads++;
  return current;
}

/** How many times `compileScope()` was called so far: unchanged across a compilation means it kept no per-core state. */
export function compileScopeReads(): number {
  return reads;
}

/** The scope of code outside any core (tests, tools): what `compileScope()` returns there. */
export function processScope(): object {
  return PROCESS_SCOPE;
}

/**
 * Counters Envoy keeps per process, by stat prefix: here per compile scope, so that each
 * workload of a node agent reports its own on its admin port.
 */
export class ScopedStats<T> {
  private readonly byScope = new WeakMap<object, Map<string, T>>();
  private readonly make: (key: string) => T;

  constructor(make: (key: string) => T) {
    this.make = make;
  }

  /** The counters of `key` in `scope` (default: the compilation in progress), created on first use. */
  get(key: string, scope: object = compileScope()): T {
    let map = this.byScope.get(scope);
    if (!map) {
      map = new Map();
      this.byScope.set(scope, map);
    }
    let value = map.get(key);
    if (value === undefined) {
      value = this.make(key);
      map.set(key, value);
    }
    return value;
  }

  /** Every counter set of `scope`, by key (for /stats/prometheus). */
  entries(scope: object): ReadonlyMap<string, T> {
    return this.byScope.get(scope) ?? new Map();
  }
}
