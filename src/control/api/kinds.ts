// Resolves the kind named in an API request (any alias: VirtualService, virtualservices, vs) to the stored kind.
import { listKinds, resolveKind } from '../../config/kinds.ts';
import { BadRequestError } from '../../errors.ts';

/** The registered kind for `name`, or a BadRequestError that lists the kinds weft knows. */
export function canonicalKind(name: string): string {
  const info = resolveKind(name);
  if (info) return info.kind;
  const known = listKinds()
    .map((k) => `${k.kind} (${[k.plural, ...k.shortNames].join(', ')})`)
    .join(', ');
  throw new BadRequestError(`unknown kind ${JSON.stringify(name)}; known kinds: ${known}`);
}
