// The sidecar's schema codec (src/xds/wire) reads and writes every Envoy message exactly as protobufjs does: random messages of every type, both ways.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { adsService } from '../../src/xds/discovery.ts';
import { decodeResource, encodeResource, root } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { CONFIG_TYPE, TYPE_URL } from '../../src/xds/type-urls.ts';
import {
  decodeDiscoveryResponse,
  decodeXdsResource,
  encodeDiscoveryRequest,
} from '../../src/xds/wire/ads.ts';
import { decodeMessage, encodeMessage } from '../../src/xds/wire/codec.ts';
import { WireFormatError } from '../../src/xds/wire/reader.ts';

/** A seeded PRNG (mulberry32): the same messages on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** google/protobuf/descriptor.proto: proto2 (required fields), only there as options of the Envoy protos, never on the wire. */
const DESCRIPTOR =
  /^\.google\.protobuf\.(\w*Options|\w*DescriptorProto|UninterpretedOption|SourceCodeInfo|GeneratedCodeInfo|FeatureSet)/;
const ALL_TYPES: protobuf.Type[] = [];
(function collect(ns: protobuf.NamespaceBase) {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type && !DESCRIPTOR.test(n.fullName)) ALL_TYPES.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) collect(n);
  }
})(root);
/** Types an Any may carry in the random messages (schema types; one unknown URL is added separately). */
const ANY_TARGETS = ALL_TYPES.filter((t) => !t.fullName.startsWith('.google.protobuf.'));

function scalar(type: string, rnd: () => number): unknown {
  const int = (bits: number) => Math.floor(rnd() * 2 ** bits);
  switch (type) {
    case 'string':
      return rnd() < 0.2 ? '' : `s${int(20)}${rnd() < 0.3 ? 'é✓' : ''}`;
    case 'bytes':
      return Buffer.from(Array.from({ length: int(3) }, () => int(8))).toString('base64');
    case 'bool':
      return rnd() < 0.5;
    case 'uint32':
    case 'fixed32':
      return rnd() < 0.2 ? 4294967295 : int(32);
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return rnd() < 0.3 ? -int(31) - 1 : int(31);
    case 'uint64':
    case 'fixed64':
      return int(rnd() < 0.5 ? 52 : 20);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return (rnd() < 0.4 ? -1 : 1) * int(rnd() < 0.5 ? 52 : 20);
    case 'double':
      return rnd() < 0.1 ? Number.NaN : rnd() < 0.1 ? -Infinity : (rnd() - 0.5) * 1e6;
    case 'float':
      return Math.fround((rnd() - 0.5) * 1000);
  }
  throw new Error(`no generator for ${type}`);
}

/** A random object of `type` in protobufjs fromObject form. */
function randomMessage(type: protobuf.Type, rnd: () => number, depth: number): Record<string, unknown> {
  if (type.fullName === '.google.protobuf.Any') {
    if (rnd() < 0.15) return { type_url: 'type.googleapis.com/unknown.v1.Thing', value: 'AQID' };
    const target = ANY_TARGETS[Math.floor(rnd() * ANY_TARGETS.length)];
    return {
      '@type': `type.googleapis.com/${target.fullName.slice(1)}`,
      ...randomMessage(target, rnd, depth + 1),
    };
  }
  const out: Record<string, unknown> = {};
  const oneofTaken = new Set<protobuf.OneOf>();
  for (const field of type.fieldsArray) {
    field.resolve();
    if (rnd() < 0.45) continue;
    if (field.partOf) {
      if (oneofTaken.has(field.partOf)) continue;
      oneofTaken.add(field.partOf);
    }
    const one = () => {
      const t = field.resolvedType;
      if (t instanceof protobuf.Enum) {
        const ids = Object.keys(t.valuesById);
        return rnd() < 0.1 ? 97 : t.valuesById[Number(ids[Math.floor(rnd() * ids.length)])];
      }
      if (t instanceof protobuf.Type) return depth > 3 ? {} : randomMessage(t, rnd, depth + 1);
      return scalar(field.type, rnd);
    };
    const count = () => Math.floor(rnd() * 3);
    if (field instanceof protobuf.MapField) {
      const map: Record<string, unknown> = {};
      for (let i = count(); i > 0; i--) map[field.keyType === 'string' ? `k${i}` : String(i)] = one();
      out[field.name] = map;
    } else if (field.repeated) out[field.name] = Array.from({ length: count() }, one);
    else out[field.name] = one();
  }
  return out;
}

test('every Envoy message decodes as protobufjs decodes it (fields, key order, Any, enums, 64-bit, bytes, NaN)', () => {
  const rnd = prng(20);
  let checked = 0;
  for (const type of ALL_TYPES) {
    for (let i = 0; i < 3; i++) {
      const url = `type.googleapis.com/${type.fullName.slice(1)}`;
      const bytes = encodeResource(url, randomMessage(type, rnd, 0));
      const expected = decodeResource(url, bytes);
      const actual = decodeXdsResource(url, bytes);
      assert.deepStrictEqual(actual, expected, type.fullName);
      assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${type.fullName}: key order`);
      checked++;
    }
  }
  assert.ok(checked > 1000, `${checked} messages checked`);
});

test('every Envoy message encodes to the bytes protobufjs writes', () => {
  const rnd = prng(7);
  for (const type of ALL_TYPES) {
    const object = randomMessage(type, rnd, 0);
    const name = type.fullName.slice(1);
    const expected = encodeResource(name, object);
    assert.deepEqual(encodeMessage(name, object), expected, name);
  }
});

test('the ADS wire messages: a DiscoveryRequest as protobufjs encodes it, a DiscoveryResponse as it decodes it', () => {
  const method = adsService.StreamAggregatedResources;
  const request = {
    version_info: '',
    node: {
      id: 'sidecar~10.0.0.1~a.default',
      cluster: 'a',
      metadata: jsonToStruct({
        NAMESPACE: 'default',
        LABELS: { app: 'a' },
        n: 3,
        ok: true,
        none: null,
        l: ['x', 1],
      }),
      locality: { region: 'r', zone: 'z' },
      user_agent_name: 'weft',
    },
    resource_names: ['a', 'b'],
    type_url: TYPE_URL.route,
    response_nonce: '',
    error_detail: { code: 3, message: 'bad' },
  };
  assert.deepEqual(encodeDiscoveryRequest(request), method.requestSerialize(request));
  const any = { type_url: TYPE_URL.cluster, value: encodeResource(TYPE_URL.cluster, { name: 'c' }) };
  for (const response of [
    {
      version_info: '7',
      resources: [any, any],
      type_url: TYPE_URL.cluster,
      nonce: 'n1',
      control_plane: { identifier: 'cp' },
    },
    { resources: [] },
  ]) {
    const bytes = method.responseSerialize(response);
    const expected = method.responseDeserialize(bytes);
    assert.deepStrictEqual(decodeDiscoveryResponse(bytes), expected);
    assert.equal(
      JSON.stringify(Object.keys(decodeDiscoveryResponse(bytes))),
      JSON.stringify(Object.keys(expected)),
    );
  }
});

test('a typed config inside a resource comes back with its @type, an unknown one as type_url and base64 value', () => {
  const listener = {
    name: 'l',
    filter_chains: [
      {
        filters: [
          { name: 'hcm', typed_config: { '@type': CONFIG_TYPE.httpConnectionManager, stat_prefix: 'x' } },
          { name: 'other', typed_config: { type_url: 'type.googleapis.com/acme.Filter', value: 'AAE=' } },
        ],
      },
    ],
  };
  const decoded = decodeXdsResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, listener));
  assert.deepEqual(decoded, listener);
});

test('bytes that are not a message are refused with a clear error', () => {
  const good = encodeResource(TYPE_URL.cluster, { name: 'cluster-a', connect_timeout: { seconds: 1 } });
  for (const bad of [
    good.subarray(0, good.length - 1),
    Buffer.from([0x0a, 0x05, 0x61]),
    Buffer.from([0x0f]),
  ]) {
    // protobufjs reads past the end of a truncated string (the second); this codec refuses it.
    assert.throws(() => decodeXdsResource(TYPE_URL.cluster, bad), WireFormatError);
  }
  assert.throws(
    () => decodeMessage('no.such.Type', good, { json: true, bytes: 'base64', emptyLists: false }),
    /no message type no.such.Type/,
  );
});
