// The ADS messages and resources a sidecar reads and writes, by the compact wire schema (no protobufjs in the proxy).
import type { DiscoveryRequestMessage, DiscoveryResponseMessage } from '../discovery.ts';
import { type DecodeOptions, decodeMessage, encodeMessage } from './codec.ts';

/** The ADS method a sidecar calls (state of the world). */
export const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** Resources as docs/xds.md describes `decodeResource`: enums as names, bytes as base64, Any expanded, no defaults. */
const RESOURCE: DecodeOptions = { json: true, bytes: 'base64', emptyLists: false };
/** Wire messages: Any stays `{type_url, value: Buffer}`, lists always present. */
const WIRE: DecodeOptions = { json: false, bytes: 'buffer', emptyLists: true };

/** Encodes a DiscoveryRequest (the same bytes as protobufjs's encoder). */
export function encodeDiscoveryRequest(request: DiscoveryRequestMessage): Buffer {
  return encodeMessage(
    'envoy.service.discovery.v3.DiscoveryRequest',
    request as unknown as Record<string, unknown>,
  );
}

/** Decodes a DiscoveryResponse; its resources stay encoded. */
export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponseMessage {
  return decodeMessage(
    'envoy.service.discovery.v3.DiscoveryResponse',
    bytes,
    WIRE,
  ) as unknown as DiscoveryResponseMessage;
}

/** Decodes resource bytes of this type URL (protobufjs's `toObject` form with weft's options, as `decodeResource`). */
export function decodeXdsResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage(typeUrl.slice(typeUrl.lastIndexOf('/') + 1), bytes, RESOURCE);
}
