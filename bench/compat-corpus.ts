// Not a benchmark but a measurement: how much of an upstream YAML corpus (Istio samples, Gateway API examples) weft accepts.
// Usage: node bench/compat-corpus.ts [--markdown] DIR... — prints, per DIR, mesh documents accepted, accepted with warnings, refused by reason.
// Reads .yaml/.yml files; with --markdown, the YAML in .md files instead (```yaml blocks and `<<EOF` heredocs), as docs pages hold it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseResources } from '../src/config/parse.ts';
import { ConfigError } from '../src/errors.ts';

/** API groups of the mesh dialects weft reads; other documents (Deployments, Services, CRDs) are not mesh config. */
const MESH_GROUPS = [
  'networking.istio.io',
  'security.istio.io',
  'telemetry.istio.io',
  'extensions.istio.io',
  'gateway.networking.k8s.io',
  'split.smi-spec.io',
  'access.smi-spec.io',
  'specs.smi-spec.io',
  'policy.linkerd.io',
  'linkerd.io',
];

const MARKDOWN = process.argv.includes('--markdown');

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return (MARKDOWN ? /\.md$/ : /\.ya?ml$/).test(path) ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

interface Tally {
  documents: number;
  accepted: number;
  warned: number;
  refused: Map<string, string[]>;
}

/** A refusal's reason without the document's own names and values, so like refusals group together. */
function reasonOf(message: string): string {
  return message
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b\d+\b/g, 'N')
    .slice(0, 140);
}

/** The YAML of a Markdown page: fenced yaml/yml blocks, and heredocs (`<<EOF` ... `EOF`) in other blocks. */
export function markdownYaml(text: string): string[] {
  const out: string[] = [];
  for (const block of text.matchAll(/^ *```([A-Za-z]*)[^\n]*\n([\s\S]*?)^ *```/gm)) {
    const [, lang, body] = block;
    if (lang === 'yaml' || lang === 'yml') out.push(body);
    else
      for (const doc of body.matchAll(/<<-?\s*'?(EOF|EOT)'?[^\n]*\n([\s\S]*?)^\s*\1\s*$/gm)) out.push(doc[2]);
  }
  return out;
}

/** The YAML texts of a file: itself, or the blocks of a Markdown page. */
function texts(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.md') ? markdownYaml(text) : [text];
}

/** A document's value, or null when the YAML does not parse (docs pages hold templates too). */
function docValue(
  doc: ReturnType<typeof parseAllDocuments>[number],
): { apiVersion?: string; kind?: string } | null {
  if (doc.errors.length > 0) return null;
  try {
    return doc.toJS() as { apiVersion?: string; kind?: string } | null;
  } catch {
    return null;
  }
}

function measure(root: string): Tally {
  const tally: Tally = { documents: 0, accepted: 0, warned: 0, refused: new Map() };
  for (const file of files(root)) {
    const docs = texts(file).flatMap((text) => [...parseAllDocuments(text)]);
    for (const [index, doc] of docs.entries()) {
      const value = docValue(doc);
      const group = value?.apiVersion?.split('/')[0];
      if (group === undefined || !MESH_GROUPS.includes(group)) continue;
      tally.documents++;
      const where = `${relative(root, file)}#${index} ${value?.kind}`;
      try {
        const [parsed] = parseResources(String(doc), file);
        tally.accepted++;
        if ((parsed?.warnings.length ?? 0) > 0) tally.warned++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const issue = err.issues[0];
        const reason = `${value?.kind}: ${issue.field === '' ? '' : `${issue.field.replace(/\[\d+\]/g, '[]')}: `}${reasonOf(issue.message)}`;
        tally.refused.set(reason, [...(tally.refused.get(reason) ?? []), where]);
      }
    }
  }
  return tally;
}

for (const root of process.argv.slice(2).filter((a) => a !== '--markdown')) {
  const t = measure(root);
  const refused = [...t.refused.values()].reduce((n, list) => n + list.length, 0);
  process.stdout.write(
    `\n${root}: ${t.documents} mesh documents, ${t.accepted} accepted (${t.warned} with warnings), ${refused} refused\n`,
  );
  for (const [reason, where] of [...t.refused].sort((a, b) => b[1].length - a[1].length))
    process.stdout.write(`  ${where.length} × ${reason}\n      e.g. ${where.slice(0, 3).join(', ')}\n`);
}
