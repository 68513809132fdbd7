import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signedHeaders } from '../src/resellers/signature.ts';

export interface Shop {
  code: string;
  credentials: { apiKey: string; apiSecret: string };
}

/** What a day of traffic asked for and what it was told, from the resellers' side. */
export interface TrafficTally {
  attempted: number;
  /** Accepted (201), or accepted earlier and confirmed on a retry (200 replayed). */
  accepted: number;
  outOfStock: number;
  insufficientFunds: number;
  /** Answers a reseller could not have caused: these are failures of the suite's run. */
  unexpected: number;
  unexpectedSamples: string[];
  /** Retries after a 5xx, a timeout or a refused connection: each one a fault someone saw. */
  retries: number;
  /** Gave up after the traffic's retry deadline without a definite answer. */
  unanswered: number;
}

const CARD_SKUS = ['QQ-100', 'JD-50', 'IQIYI-MONTH'];
const TOPUP_SKUS = ['CMCC-50', 'CUCC-50', 'CTCC-100'];

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

function send(port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, timeout: 15_000, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Resellers' systems placing orders at `ratePerSecond` for `seconds`, as a Taobao shop's would: a
 * 5xx, a timeout or a refused connection is retried with the same order id (the API must make that
 * safe) until a definite answer or `giveUpAt`. With several API processes the orders are spread over
 * them, and a retry goes to the next one (as a client behind a load balancer would see it).
 */
export async function playTraffic(options: {
  apiPorts: number[]; shops: Shop[]; seconds: number; ratePerSecond: number; random: () => number; giveUpAt: () => number;
  onProgress?: (tally: TrafficTally) => void;
}): Promise<TrafficTally> {
  const tally: TrafficTally = { attempted: 0, accepted: 0, outOfStock: 0, insufficientFunds: 0, unexpected: 0, unexpectedSamples: [], retries: 0, unanswered: 0 };
  const { random } = options;
  const inFlight = new Set<Promise<void>>();
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;

  const placeOne = async (n: number) => {
    const shop = pick(options.shops);
    const topUp = random() < 0.4;
    const order = topUp
      ? { resellerOrderId: `chaos-${n}`, sku: pick(TOPUP_SKUS), account: `139${String(Math.floor(random() * 1e8)).padStart(8, '0')}` }
      : { resellerOrderId: `chaos-${n}`, sku: pick(CARD_SKUS), quantity: 1 + Math.floor(random() * 2) };
    const body = JSON.stringify(order);
    tally.attempted++;
    for (let attempt = 0; ; attempt++) {
      let answer: { status: number; text: string } | undefined;
      try {
        // a fresh timestamp and nonce per attempt, as a real client's retry would sign anew
        const port = options.apiPorts[(n + attempt) % options.apiPorts.length]!;
        answer = await send(port, '/api/v1/orders', body, signedHeaders(shop.credentials, 'POST', '/api/v1/orders', body));
      } catch {
        answer = undefined;
      }
      if (answer && answer.status < 500) {
        const code = answer.status >= 400 ? (JSON.parse(answer.text) as { error: { code: string } }).error.code : '';
        if (answer.status === 200 || answer.status === 201) tally.accepted++;
        else if (code === 'OUT_OF_STOCK') tally.outOfStock++;
        else if (code === 'INSUFFICIENT_FUNDS') tally.insufficientFunds++;
        else {
          tally.unexpected++;
          if (tally.unexpectedSamples.length < 5) tally.unexpectedSamples.push(`${shop.code} ${body}: ${answer.status} ${answer.text.slice(0, 300)}`);
        }
        return;
      }
      if (Date.now() > options.giveUpAt()) {
        tally.unanswered++;
        return;
      }
      tally.retries++;
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
  };

  const started = Date.now();
  const progress = setInterval(() => options.onProgress?.(tally), 1_000);
  try {
    for (let n = 0; Date.now() - started < options.seconds * 1000; n++) {
      // arrivals on a fixed schedule (open loop): a slow server gets a queue, not fewer customers
      const due = started + (n * 1000) / options.ratePerSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const p = placeOne(n).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    clearInterval(progress);
  }
  return tally;
}

/** The resellers' callback endpoints: answer 200, sometimes 500 (their servers fail too), and count. */
export async function startResellerEndpoints(random: () => number, failRate: number): Promise<{ url: string; received: () => number; refused: () => number; stop(): Promise<void> }> {
  let received = 0;
  let refused = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (random() < failRate) {
        refused++;
        res.writeHead(500).end('busy');
      } else {
        received++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/kameng-callback`,
    received: () => received,
    refused: () => refused,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
