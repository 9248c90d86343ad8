// Kubernetes name rules (DNS-1123 names, label keys and values) as readers.
import type { Reader } from './read.ts';
import { describe, record, string, stringWith } from './read.ts';

const DNS1123_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** Why `text` is not a DNS-1123 label (63 chars of [a-z0-9-], alphanumeric at both ends), or undefined. */
export function dnsLabelError(text: string): string | undefined {
  if (text.length <= 63 && DNS1123_LABEL.test(text)) return undefined;
  return `"${text}" is not a valid DNS-1123 label (at most 63 characters: lower-case letters, digits and "-", starting and ending with a letter or digit)`;
}

/** Why `text` is not a DNS-1123 subdomain (253 chars, dot-separated DNS labels), or undefined. */
export function dnsSubdomainError(text: string): string | undefined {
  if (text.length <= 253 && DNS1123_SUBDOMAIN.test(text)) return undefined;
  return `"${text}" is not a valid DNS-1123 name (at most 253 characters: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit)`;
}

export const dnsLabel = stringWith(dnsLabelError);
export const dnsSubdomain = stringWith(dnsSubdomainError);

/** Why a label key (`[prefix/]name`) is malformed, or undefined. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && dnsSubdomainError(prefix) !== undefined)
    return `label key "${key}" has an invalid prefix (it must be a DNS-1123 name)`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return `label key "${key}" is not valid (at most 63 characters: letters, digits, "-", "_", ".", starting and ending with a letter or digit)`;
  return undefined;
}

const labelValue: Reader<string> = (check, value, path) => {
  if (typeof value !== 'string') {
    check.error(path, `label values must be strings, got ${describe(value)} (quote it)`);
    return undefined;
  }
  if (value === '' || (value.length <= 63 && LABEL_NAME.test(value))) return value;
  check.error(
    path,
    `label value "${value}" is not valid (at most 63 characters: letters, digits, "-", "_", ".", starting and ending with a letter or digit)`,
  );
  return undefined;
};

/** A Kubernetes label map (selectors, workload labels, metadata.labels). */
export const labels: Reader<Record<string, string>> = record(labelValue, labelKeyError);

/** A map of string to string with no syntax rules beyond that (annotations). */
export const stringMap: Reader<Record<string, string>> = record(string);
