// envoy.type.matcher.v3.MetadataMatcher and ValueMatcher: match a value in a request's dynamic metadata.
import { checkFields, list, type Msg, msg, num, str, unsupported } from '../../../common/fields.ts';
import { compileStringMatcher, matchString } from '../../router/matchers.ts';

/** Tests one metadata value (any JSON value; undefined when the path does not exist). */
export type ValueTest = (value: unknown) => boolean;

/** A compiled MetadataMatcher: reads `filter` + `path` from the dynamic metadata and tests it. */
export type MetadataTest = (metadata: ReadonlyMap<string, Record<string, unknown>> | undefined) => boolean;

/** Compiles a ValueMatcher (null, double, string, bool, present, list one_of, or). */
export function compileValueMatcher(m: Msg, where: string): ValueTest {
  checkFields(m, where, [
    'nullMatch',
    'doubleMatch',
    'stringMatch',
    'boolMatch',
    'presentMatch',
    'listMatch',
    'orMatch',
  ]);
  if (msg(m.nullMatch)) return (v) => v === null;
  const double = msg(m.doubleMatch);
  if (double) {
    checkFields(double, `${where}.double_match`, ['range', 'exact']);
    const range = msg(double.range);
    if (range) {
      const [start, end] = [num(range.start), num(range.end)];
      return (v) => typeof v === 'number' && v >= start && v < end;
    }
    const exact = num(double.exact);
    return (v) => v === exact;
  }
  const string = msg(m.stringMatch);
  if (string) {
    const s = compileStringMatcher(string, `${where}.string_match`);
    return (v) => typeof v === 'string' && matchString(s, v);
  }
  if (typeof m.boolMatch === 'boolean') {
    const wanted = m.boolMatch;
    return (v) => v === wanted;
  }
  if (typeof m.presentMatch === 'boolean') {
    const wanted = m.presentMatch;
    return (v) => (v !== undefined) === wanted;
  }
  const listMatch = msg(m.listMatch);
  if (listMatch) {
    checkFields(listMatch, `${where}.list_match`, ['oneOf']);
    const oneOf = msg(listMatch.oneOf);
    if (!oneOf) return unsupported(`${where}.list_match`, 'a list_match without one_of');
    const item = compileValueMatcher(oneOf, `${where}.list_match.one_of`);
    return (v) => Array.isArray(v) && v.some(item);
  }
  const or = msg(m.orMatch);
  if (or) {
    checkFields(or, `${where}.or_match`, ['valueMatchers']);
    const tests = list(or.valueMatchers).map((x, i) =>
      compileValueMatcher(x, `${where}.or_match.value_matchers[${i}]`),
    );
    return (v) => tests.some((t) => t(v));
  }
  return unsupported(where, 'a value matcher with no match set');
}

/** Compiles a MetadataMatcher `{filter, path: [{key}], value, invert}`. */
export function compileMetadataMatcher(m: Msg, where: string): MetadataTest {
  checkFields(m, where, ['filter', 'path', 'value', 'invert']);
  const filter = str(m.filter);
  const keys = list(m.path).map((segment, i) => {
    checkFields(segment, `${where}.path[${i}]`, ['key']);
    return str(segment.key);
  });
  if (keys.length === 0) unsupported(where, 'a metadata matcher without a path');
  const value = msg(m.value);
  if (!value) unsupported(where, 'a metadata matcher without a value');
  const test = compileValueMatcher(value, `${where}.value`);
  const invert = m.invert === true;
  return (metadata) => {
    let node: unknown = metadata?.get(filter);
    for (const key of keys) {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) {
        node = undefined;
        break;
      }
      node = (node as Record<string, unknown>)[key];
    }
    return test(node) !== invert;
  };
}
