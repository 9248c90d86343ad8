// The xDS control channel as an attacker meets it: mutual TLS, identity from the certificate, a read-only plaintext port, a pinned server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ControlPlane } from '../../src/control/control-plane.ts';
import { xdsControlPlaneParts } from '../../src/control/xds/wiring.ts';
import { BadRequestError } from '../../src/errors.ts';
import { CONTROL_PLANE_IDENTITY, checkServerSpiffeId } from '../../src/identity/spiffe.ts';
import { generateWorkloadKey } from '../../src/identity/workload-key.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { GrpcBidiCall, type GrpcCallEnd } from '../../src/proxy/xds-client/grpc-call.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { openssl } from '../e2e/mtls-mesh.ts';
import { AdsTestClient, sidecarNode } from '../helpers/grpc-ads-client.ts';

setLogLevel('silent');

const CP_ID = `spiffe://cluster.local/ns/${CONTROL_PLANE_IDENTITY.namespace}/sa/${CONTROL_PLANE_IDENTITY.serviceAccount}`;

describe('the xDS control channel', () => {
  let dir: string;
  let cp: ControlPlane;
  let xds = '';
  let plaintext = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-xds-auth-'));
    cp = new ControlPlane(
      {
        dataDir: dir,
        api: { host: '127.0.0.1', port: 0 },
        xds: { host: '127.0.0.1', port: 0 },
        xdsPlaintext: { host: '127.0.0.1', port: 0 },
        pushDebounceMs: 10,
        registryGraceMs: 50,
      },
      xdsControlPlaneParts(),
    );
    const addresses = await cp.start();
    xds = addresses.xdsAddress!;
    plaintext = addresses.xdsPlaintextAddress!;
  });
  after(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** mTLS channel credentials for a workload certificate the mesh CA issued for ns/sa. */
  async function workloadCredentials(
    namespace: string,
    serviceAccount: string,
  ): Promise<grpc.ChannelCredentials> {
    const key = await generateWorkloadKey();
    const issued = await cp.ca.authority.sign(key.csrPem, { namespace, serviceAccount });
    return grpc.credentials.createSsl(
      Buffer.from(cp.ca.trustBundle()),
      Buffer.from(key.keyPem),
      Buffer.from(issued.certificateChainPem),
      { checkServerIdentity: checkServerSpiffeId([CP_ID]) },
    );
  }

  function registered(): string[] {
    return cp.registry.list().map((w) => `${w.namespace}/${w.serviceAccount}`);
  }

  test('a plaintext client on the mTLS port gets nothing', async () => {
    const client = new AdsTestClient(xds, 'sotw');
    try {
      client.send({
        node: sidecarNode('intruder-1', { NAMESPACE: 'prod', WEFT_SERVICE: 'payments' }),
        type_url: TYPE_URL.cluster,
      });
      const status = await client.ended(10_000);
      assert.equal(status.code, grpc.status.UNAVAILABLE);
      assert.equal(client.responses.length, 0);
    } finally {
      client.close();
    }
    assert.deepEqual(registered(), []);
  });

  test('a valid certificate for shop/cart claiming prod/payments is refused with WEFT_XDS_IDENTITY', async () => {
    const client = new AdsTestClient(xds, 'sotw', await workloadCredentials('shop', 'cart'));
    try {
      client.send({
        node: sidecarNode('liar-1', {
          NAMESPACE: 'prod',
          WEFT_SERVICE: 'payments',
          SERVICE_ACCOUNT: 'payments',
        }),
        type_url: TYPE_URL.cluster,
      });
      const status = await client.ended(10_000);
      assert.equal(status.code, grpc.status.PERMISSION_DENIED);
      assert.match(status.details, /WEFT_XDS_IDENTITY/);
      assert.equal(client.responses.length, 0);
    } finally {
      client.close();
    }
    assert.deepEqual(registered(), []);
  });

  test('the same certificate with its own namespace and service account is served and registered', async () => {
    const client = new AdsTestClient(xds, 'sotw', await workloadCredentials('shop', 'cart'));
    try {
      client.send({
        node: sidecarNode('cart-1', { NAMESPACE: 'shop', WEFT_SERVICE: 'cart', SERVICE_ACCOUNT: 'cart' }),
        type_url: TYPE_URL.cluster,
      });
      const response = await client.next(TYPE_URL.cluster, 10_000);
      assert.equal(response.type_url, TYPE_URL.cluster);
      assert.deepEqual(registered(), ['shop/cart']);
    } finally {
      client.close();
    }
  });

  test('the plaintext port serves configuration but registers nothing', async () => {
    const before = registered();
    const client = new AdsTestClient(plaintext, 'sotw');
    try {
      client.send({
        node: sidecarNode('ghost-1', { NAMESPACE: 'prod', WEFT_SERVICE: 'payments' }),
        type_url: TYPE_URL.cluster,
      });
      await client.next(TYPE_URL.cluster, 10_000);
      // Nothing new: the earlier test's workload may leave meanwhile (its grace period ends).
      assert.deepEqual(
        registered().filter((w) => !before.includes(w)),
        [],
      );
    } finally {
      client.close();
    }
  });

  test('a proxy refuses an xDS server that is not the control plane, even with a mesh certificate', async () => {
    // A workload of the mesh serves "xDS" with its own valid certificate.
    const key = await generateWorkloadKey();
    const issued = await cp.ca.authority.sign(key.csrPem, { namespace: 'shop', serviceAccount: 'cart' });
    const rogue = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      rogue.bindAsync(
        '127.0.0.1:0',
        grpc.ServerCredentials.createSsl(
          Buffer.from(cp.ca.trustBundle()),
          [{ private_key: Buffer.from(key.keyPem), cert_chain: Buffer.from(issued.certificateChainPem) }],
          false,
        ),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    try {
      const client = await generateWorkloadKey();
      const clientCert = await cp.ca.authority.sign(client.csrPem, {
        namespace: 'shop',
        serviceAccount: 'web',
      });
      const end = await new Promise<GrpcCallEnd>((resolve) => {
        const call = new GrpcBidiCall(
          {
            address: `127.0.0.1:${port}`,
            path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
            maxMessageBytes: 1 << 20,
            keepaliveIntervalMs: 30_000,
            keepaliveTimeoutMs: 20_000,
            tls: {
              key: client.keyPem,
              cert: clientCert.certificateChainPem,
              ca: cp.ca.trustBundle(),
              checkServerIdentity: checkServerSpiffeId([CP_ID]),
            },
          },
          () => {},
          resolve,
        );
        call.write(Buffer.alloc(0));
      });
      assert.equal(end.source, 'client');
      assert.match(end.details, /spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart/);
    } finally {
      rogue.forceShutdown();
    }
  });

  test('openssl s_client without a client certificate: the server is the control plane, the handshake is refused', async () => {
    // -ign_eof keeps reading after the input, so the server's alert (sent once it has checked
    // the client's empty certificate list) is seen.
    const { output } = await openssl(
      ['s_client', '-connect', xds, '-alpn', 'h2', '-showcerts', '-ign_eof'],
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    assert.match(output, /alert certificate required/, output);
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
    assert.ok(pem, 'the server sent its certificate');
    const text = await openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem);
    assert.match(text.output, new RegExp(`URI:${CP_ID}`));
  });

  test("no bootstrap token is minted for the control plane's identity", () => {
    assert.throws(() => cp.ca.mintToken(CONTROL_PLANE_IDENTITY), BadRequestError);
  });
});
