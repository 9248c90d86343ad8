// Which proxy core is compiling configuration right now: state Envoy shares per process is per core here.
//
// One process may run several cores (a `weft node` agent serves one per workload). A filter that
// keeps state across config versions (the local rate limit's token buckets) keys it by the scope
// its config was compiled in, so two workloads never share a bucket. Compilation is synchronous,
// so the scope is simply set around it.

/** The scope of code that compiles outside any core (tests, tools). */
const PROCESS_SCOPE: object = Object.freeze({ name: 'process' });

let current: object = PROCESS_SCOPE;

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
  return current;
}
