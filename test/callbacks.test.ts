import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../src/callbacks/address-policy.ts';
import { CallbackFailedError, CallbackRefusedError, callbackSignature, deliverCallback } from '../src/callbacks/deliver.ts';

let server: http.Server;
let url: string;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let answer = 200;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kameng/callback`;
});
afterAll(() => server.close());

describe('reseller callbacks', () => {
  it('refuses loopback and private addresses unless configured to allow them', async () => {
    const refused = deliverCallback({ url, body: '{}', secret: 's', allowPrivateAddresses: false });
    await expect(refused).rejects.toThrow(CallbackRefusedError);
    await expect(deliverCallback({ url: 'http://localhost:1/x', body: '{}', secret: 's', allowPrivateAddresses: false }))
      .rejects.toThrow(/resolves to (127\.0\.0\.1|::1), a private or loopback address/);
    expect(received).toHaveLength(0);
  });

  it('knows private ranges from public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '114.114.114.114', '2400:3200::1']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('posts a body the receiver can verify with the shared secret', async () => {
    const body = JSON.stringify({ resellerOrderId: 'A-1', status: 'SUCCESS' });
    const result = await deliverCallback({ url, body, secret: 'shared-secret', allowPrivateAddresses: true });
    expect(result.statusCode).toBe(200);
    const got = received.at(-1)!;
    expect(got.body).toBe(body);
    expect(got.headers['x-kameng-signature']).toBe(callbackSignature('shared-secret', String(got.headers['x-kameng-timestamp']), body));
  });

  it('treats a non-2xx answer as a failure to retry', async () => {
    answer = 503;
    try {
      await expect(deliverCallback({ url, body: '{}', secret: 's', allowPrivateAddresses: true })).rejects.toThrow(CallbackFailedError);
    } finally {
      answer = 200;
    }
  });

  it('refuses a URL that is not http(s)', async () => {
    await expect(deliverCallback({ url: 'file:///etc/passwd', body: '{}', secret: 's', allowPrivateAddresses: true })).rejects.toThrow(/must be http\(s\)/);
  });
});
