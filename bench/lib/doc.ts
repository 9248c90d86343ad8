// docs/benchmarks.md: each benchmark owns the text between its `<!-- bench:NAME:start/end -->` markers.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Where sections go when they are first written; sections of other names are kept where they are. */
export const SECTION_ORDER: readonly string[] = [
  'environment',
  'http1',
  'open-loop',
  'grpc',
  'tcp',
  'memory',
  'xds-convergence',
  // the proxy part's quick check (bench/proxy-http1.ts), which writes its own section
  'proxy-http1',
];

const PREAMBLE = `# Benchmarks

Written by \`npm run bench\` (see [bench/README.md](../bench/README.md) for how to run and read it).
Each section is replaced by the harness between its \`bench:NAME\` markers when that benchmark
runs (\`--only NAME\` updates only its own section); figures are never edited by hand. Every weft
figure sits beside its references, measured in the same run on the same machine.
`;

export function startMarker(name: string): string {
  return `<!-- bench:${name}:start -->`;
}

export function endMarker(name: string): string {
  return `<!-- bench:${name}:end -->`;
}

/**
 * Where a section starts and ends, for placing new sections beside it. Also finds sections a
 * separate script writes with its own markers (`<!-- NAME:start -->`), which are never rewritten here.
 */
function locate(doc: string, name: string): { start: number; end: number } | undefined {
  for (const [open, close] of [
    [startMarker(name), endMarker(name)],
    [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`],
  ]) {
    const start = doc.indexOf(open);
    const end = doc.indexOf(close);
    if (start >= 0 && end > start) return { start, end: end + close.length };
  }
  return undefined;
}

/** The text between a section's markers, or undefined when the document has no such section. */
export function readSection(doc: string, name: string): string | undefined {
  const start = doc.indexOf(startMarker(name));
  const end = doc.indexOf(endMarker(name));
  if (start < 0 || end < start) return undefined;
  return doc.slice(start + startMarker(name).length, end).trim();
}

/**
 * Puts `body` between the markers of `name`: in place when the section exists, otherwise
 * before the first later section of SECTION_ORDER present (or after the last earlier one,
 * or at the end). Every other byte of the document is kept. Headings are inside the markers:
 * text outside any markers (a section another script writes by its heading) is left alone.
 */
export function upsertSection(doc: string, name: string, body: string): string {
  const block = `${startMarker(name)}\n${body.trim()}\n${endMarker(name)}`;
  const start = doc.indexOf(startMarker(name));
  const end = doc.indexOf(endMarker(name));
  if (start >= 0 && end > start) return doc.slice(0, start) + block + doc.slice(end + endMarker(name).length);
  if (start >= 0 || end >= 0)
    throw new Error(`docs/benchmarks.md: the markers of section ${name} are broken`);
  const rank = SECTION_ORDER.indexOf(name);
  const later = rank < 0 ? undefined : SECTION_ORDER.slice(rank + 1).find((n) => locate(doc, n));
  if (later) {
    const at = locate(doc, later)!.start;
    return `${doc.slice(0, at)}${block}\n\n${doc.slice(at)}`;
  }
  const earlier =
    rank < 0
      ? undefined
      : SECTION_ORDER.slice(0, rank)
          .reverse()
          .find((n) => locate(doc, n));
  if (earlier) {
    const at = locate(doc, earlier)!.end;
    return `${doc.slice(0, at)}\n\n${block}${doc.slice(at)}`;
  }
  return `${doc.trimEnd()}\n\n${block}\n`;
}

/** Re-reads the file (another process may have written its own section), updates one section, writes atomically. */
export function writeSection(file: string, name: string, body: string): void {
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const next = upsertSection(doc, name, body);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, next.endsWith('\n') ? next : `${next}\n`);
  renameSync(tmp, file);
}
