// The import graph of a source tree (relative specifiers of static and dynamic imports) and its cycles; `node test/helpers/import-graph.ts [DIR]` lists them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Module specifiers in `import … from`, `export … from`, bare `import '…'` and `import('…')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

/** Every specifier a source text imports (comments included: a commented import is rare and harmless to count). */
export function importSpecifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[1]);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** File → the files it imports (relative specifiers only), for every .ts file under `dir`; paths relative to `base`. */
export function importGraph(dir: string, base = dir): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(resolve(dir))) {
    const targets = importSpecifiers(readFileSync(file, 'utf8'))
      .filter((s) => s.startsWith('.'))
      .map((s) => relative(base, resolve(dirname(file), s)));
    graph.set(relative(base, file), [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import cycles of a graph, each as the list of files around it (starting at its smallest
 * name), found as the strongly connected components with more than one file or a self-import.
 */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file)!, index.get(target)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file)?.includes(file)) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

if (import.meta.main) {
  const dir = process.argv[2] ?? 'src';
  const cycles = importCycles(importGraph(dir, process.cwd()));
  for (const cycle of cycles) process.stdout.write(`${cycle.join(' <-> ')}\n`);
  process.stdout.write(`${cycles.length} import cycle(s) under ${dir}\n`);
}
