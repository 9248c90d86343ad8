// Gateway API GatewayClass: read and stored, with a warning; weft serves the classes `weft` and `istio` by name and needs none.
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { nonEmptyString, readObject, string } from '../read.ts';
import { GATEWAY_CLASSES } from './gateway.ts';

/** What a GatewayClass says: its controller. */
export interface GatewayClassValue {
  name: string;
  controllerName: string;
}

/** Reads `spec` of a GatewayClass (`controllerName` required, `description`, `parametersRef`), to store it. */
export function readGatewayClass(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): GatewayClassValue | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const controllerName = f.required('controllerName', nonEmptyString);
    f.optional('description', string);
    // The other controller's parameters: stored with the class, which weft does not use.
    f.optional('parametersRef', (_c, value) => value);
    if (controllerName === undefined) return undefined;
    f.check.warn(
      ['kind'],
      `stored but not used: weft serves Gateways of class ${GATEWAY_CLASSES.join(' or ')} (no GatewayClass needed); Gateways of class ${context.name} are left to ${controllerName}`,
    );
    return { name: context.name, controllerName };
  });
}
