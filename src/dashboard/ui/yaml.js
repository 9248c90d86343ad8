// A small YAML writer for showing resources (block style; strings quoted only when YAML would misread them).

const PLAIN = /^[A-Za-z_/.][\w./:@-]*(?: [\w./:@-]+)*$/;
const RESERVED = /^(?:true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = String(value);
  return PLAIN.test(text) && !RESERVED.test(text) ? text : JSON.stringify(text);
}

function isEmpty(value) {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

function lines(value, indent, out) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (typeof item === 'object' && item !== null && !isEmpty(item)) {
        const inner = [];
        lines(item, indent + 2, inner);
        inner[0] = `${pad}- ${inner[0].slice(indent + 2)}`;
        out.push(...inner);
      } else out.push(`${pad}- ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`);
    }
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const name = scalar(key);
    if (typeof item === 'object' && item !== null && !isEmpty(item)) {
      out.push(`${pad}${name}:`);
      lines(item, Array.isArray(item) ? indent : indent + 2, out);
    } else out.push(`${pad}${name}: ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`);
  }
}

/** `value` (a JSON object) as YAML text. */
export function toYaml(value) {
  const out = [];
  lines(value, 0, out);
  return `${out.join('\n')}\n`;
}
