// Header mutations of routes (request/response_headers_to_add/remove), compiled once and applied per request.
import { checkFields, list, msg, str, wrappedBool } from '../../common/fields.ts';
import { removeFlat } from '../../common/flat-list.ts';
import type { RequestHead } from '../request-head.ts';

/** How a header mutation treats an existing header (Envoy's HeaderAppendAction). */
export type AppendAction =
  | 'APPEND_IF_EXISTS_OR_ADD'
  | 'ADD_IF_ABSENT'
  | 'OVERWRITE_IF_EXISTS_OR_ADD'
  | 'OVERWRITE_IF_EXISTS';

export interface HeaderMutation {
  name: string;
  value: string;
  action: AppendAction;
}

/** Headers to add and remove at one level (route config, virtual host, route, weighted cluster). */
export interface HeaderMutations {
  add: HeaderMutation[];
  remove: string[];
}

export const EMPTY_MUTATIONS: HeaderMutations = { add: [], remove: [] };

export function compileMutations(add: unknown, remove: unknown, where: string): HeaderMutations {
  const adds = list(add).map((o, i) => {
    const w = `${where}.headers_to_add[${i}]`;
    checkFields(o, w, ['header', 'append', 'appendAction', 'keepEmptyValue']);
    const header = msg(o.header) ?? {};
    checkFields(header, w, ['key', 'value', 'rawValue']);
    let action: AppendAction = 'APPEND_IF_EXISTS_OR_ADD';
    if (typeof o.appendAction === 'string') action = o.appendAction as AppendAction;
    if (o.append !== undefined && o.append !== null && !wrappedBool(o.append, true))
      action = 'OVERWRITE_IF_EXISTS_OR_ADD';
    const raw = header.rawValue;
    const value =
      typeof header.value === 'string' && header.value !== ''
        ? header.value
        : raw instanceof Uint8Array
          ? Buffer.from(raw).toString('latin1')
          : typeof raw === 'string'
            ? Buffer.from(raw, 'base64').toString('latin1')
            : '';
    return { name: str(header.key).toLowerCase(), value, action };
  });
  const removes = Array.isArray(remove) ? (remove as string[]).map((s) => s.toLowerCase()) : [];
  return adds.length === 0 && removes.length === 0 ? EMPTY_MUTATIONS : { add: adds, remove: removes };
}

/** Applies mutations to a request head (Envoy: removals first, then additions). */
export function applyRequestMutations(m: HeaderMutations, head: RequestHead): void {
  for (const name of m.remove) head.remove(name);
  for (const a of m.add) {
    if (a.name === ':authority' || a.name === 'host') {
      head.authority = a.value;
      continue;
    }
    const existing = head.get(a.name);
    switch (a.action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        head.add(a.name, a.value);
        break;
      case 'ADD_IF_ABSENT':
        if (existing === undefined) head.add(a.name, a.value);
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        head.set(a.name, a.value);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (existing !== undefined) head.set(a.name, a.value);
        break;
    }
  }
}

/** Applies mutations to a flat response header list `[name, value, ...]` in place. */
export function applyResponseMutations(m: HeaderMutations, headers: string[]): void {
  for (const name of m.remove) removeFlat(headers, name);
  for (const a of m.add) {
    const i = indexFlat(headers, a.name);
    switch (a.action) {
      case 'APPEND_IF_EXISTS_OR_ADD':
        headers.push(a.name, a.value);
        break;
      case 'ADD_IF_ABSENT':
        if (i < 0) headers.push(a.name, a.value);
        break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD':
        removeFlat(headers, a.name);
        headers.push(a.name, a.value);
        break;
      case 'OVERWRITE_IF_EXISTS':
        if (i >= 0) {
          removeFlat(headers, a.name);
          headers.push(a.name, a.value);
        }
        break;
    }
  }
}

function indexFlat(headers: string[], name: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return i;
  return -1;
}
