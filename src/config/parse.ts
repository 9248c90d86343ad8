// Parses YAML/JSON resource documents, validates every one, and reports all issues with file:line:column.
import type { Document } from 'yaml';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { ConfigIssue } from '../errors.ts';
import { ConfigError, formatIssue } from '../errors.ts';
import type { FieldPath, Finding } from './check.ts';
import { Check, formatPath } from './check.ts';
import type { ReadOptions } from './envelope.ts';
import { readResource } from './envelope.ts';
import { locate } from './position.ts';
import { isPlainObject } from './read.ts';
import type { Resource, SourceLocation } from './resource.ts';

export interface ParsedDocument {
  resource: Resource;
  location: SourceLocation;
  /** Things accepted but worth knowing (ignored or deprecated fields), as `file:line:col: document N: field: message`. */
  warnings: string[];
  /** Where a field of the resource (`['spec', 'http', 0]`) is written: line and column. */
  place?: (path: FieldPath) => { line?: number; column?: number };
}

/** A validated resource from an already-parsed body, with its warnings. */
export interface CheckedResource {
  resource: Resource;
  /** Index of the object in the list given to checkResources. */
  document: number;
  warnings: string[];
}

/** One resource inside a document: the document itself, an item of `kind: List`, or of a top-level list. */
interface Item {
  value: unknown;
  /** Path of the item within the document (`[]`, `['items', 2]`, `[2]`). */
  prefix: FieldPath;
}

/** A document holds one resource, a `kind: List` with `items`, or a plain list of resources. */
function itemsOf(value: unknown): Item[] {
  if (Array.isArray(value)) return value.map((entry, i) => ({ value: entry, prefix: [i] }));
  if (isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items))
    return value.items.map((entry, i) => ({ value: entry, prefix: ['items', i] }));
  return [{ value, prefix: [] }];
}

/** Where a finding is, for issues and warnings. */
type Place = (path: FieldPath) => { line?: number; column?: number };

/** Collects the issues of a whole file or request, then throws them together. */
class Report {
  readonly issues: ConfigIssue[] = [];
  /** `Kind/namespace/name` → document index, to catch the same resource twice in one apply. */
  private readonly seen = new Map<string, number>();
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  issue(document: number, finding: Finding, place: Place): void {
    this.issues.push({
      file: this.file,
      document,
      ...place(finding.path),
      field: formatPath(finding.path),
      message: finding.message,
      reason: finding.reason ?? 'invalid',
    });
  }

  warning(document: number, finding: Finding, place: Place): string {
    return formatIssue({
      file: this.file,
      document,
      ...place(finding.path),
      field: formatPath(finding.path),
      message: finding.message,
    });
  }

  /** Reads one item; returns the resource and its warnings, or records its issues. */
  read(
    document: number,
    item: Item,
    place: Place,
    options: ReadOptions,
  ): { resource: Resource; warnings: string[] } | undefined {
    const check = new Check();
    const resource = readResource(check, item.value, options);
    const at = (finding: Finding): Finding => ({ ...finding, path: [...item.prefix, ...finding.path] });
    for (const finding of check.issues) this.issue(document, at(finding), place);
    if (resource === undefined) return undefined;
    const { kind, metadata } = resource;
    const key = `${kind}/${metadata.namespace}/${metadata.name}`;
    const first = this.seen.get(key);
    if (first !== undefined) {
      this.issue(
        document,
        at({
          path: ['metadata', 'name'],
          message: `${key} is also defined in document ${first}; define it once`,
        }),
        place,
      );
      return undefined;
    }
    this.seen.set(key, document);
    return {
      resource,
      warnings: check.warnings.map((finding) => this.warning(document, at(finding), place)),
    };
  }

  /** Throws every issue, in document order and then source order. */
  throwIfAny(): void {
    if (this.issues.length === 0) return;
    const order = (issue: ConfigIssue) => [issue.document, issue.line ?? 0, issue.column ?? 0];
    const sorted = [...this.issues].sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
    throw new ConfigError(sorted);
  }
}

/**
 * Parses YAML or JSON text holding one or many documents (`---`), validates each one, and returns
 * them normalised (metadata.namespace defaulted; empty documents skipped). Throws ConfigError
 * listing every issue across all documents.
 */
export function parseResources(text: string, file: string, options: ReadOptions = {}): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const documents: Document[] = Array.isArray(parsed) ? parsed : [];
  const report = new Report(file);
  const out: ParsedDocument[] = [];
  const position = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  documents.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const error of doc.errors)
        report.issues.push({
          file,
          document: index,
          ...position(error.pos[0]),
          field: '',
          message: error.message,
          reason: 'syntax',
        });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // e.g. an alias expanding too far ("billion laughs"), or a reference to an undefined anchor.
      report.issues.push({
        file,
        document: index,
        ...position(doc.range?.[0]),
        field: '',
        message: (error as Error).message,
        reason: 'syntax',
      });
      return;
    }
    if (value === null || value === undefined) return;
    const place: Place = (path) => position(locate(doc, path));
    const parserWarnings = doc.warnings.map((warning) =>
      formatIssue({
        file,
        document: index,
        ...position(warning.pos[0]),
        field: '',
        message: warning.message,
      }),
    );
    for (const item of itemsOf(value)) {
      const read = report.read(index, item, place, options);
      if (read === undefined) continue;
      const start = place(item.prefix).line ?? 1;
      out.push({
        resource: read.resource,
        location: { file, document: index, line: start },
        warnings: [...parserWarnings, ...read.warnings],
        place: (path) => place([...item.prefix, ...path]),
      });
    }
  });
  report.throwIfAny();
  return out;
}

/**
 * Validates objects that are already parsed (JSON API bodies); each object is one document (a
 * resource or a `kind: List`). Issues carry no line. Throws ConfigError listing every issue.
 */
export function checkResources(
  objects: unknown[],
  file: string,
  options: ReadOptions = {},
): CheckedResource[] {
  const report = new Report(file);
  const out: CheckedResource[] = [];
  const nowhere: Place = () => ({});
  objects.forEach((object, index) => {
    for (const item of itemsOf(object)) {
      const read = report.read(index, item, nowhere, options);
      if (read !== undefined) out.push({ resource: read.resource, document: index, warnings: read.warnings });
    }
  });
  report.throwIfAny();
  return out;
}

/** Same validation for objects that are already parsed (JSON API bodies); line is absent. Throws ConfigError. */
export function validateResources(objects: unknown[], file: string, options: ReadOptions = {}): Resource[] {
  return checkResources(objects, file, options).map((checked) => checked.resource);
}
