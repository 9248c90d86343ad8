// Maps a field path to where that field is written in a parsed YAML/JSON document.
import type { Document, Node } from 'yaml';
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { FieldPath } from './check.ts';

/**
 * The source offset of the field at `path`: the key of a map entry, or the start of a list item.
 * When the path goes further than the document (a missing field), the deepest field that exists
 * is used, so a missing field points at its parent.
 */
export function locate(doc: Document, path: FieldPath): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
