import http from 'node:http';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request as an attacker would send it: any method, path, headers and body, the body
 * chunked (no Content-Length) when given as chunks, from a chosen local address. Resolves with the
 * answer even if the server answers (and closes) before the body is all sent.
 */
export function rawRequest(base: string, options: {
  method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string; chunks?: Iterable<Buffer>; localAddress?: string;
}): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({
      host: url.hostname, port: url.port, method: options.method ?? 'GET', path: options.path, headers: options.headers,
      localAddress: options.localAddress, agent: false,
    }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    // the server may cut the connection after answering a refused upload: that is not a failure
    req.on('error', (err) => { if (!answered) setTimeout(() => { if (!answered) reject(err); }, 200); });
    void (async () => {
      if (options.chunks) {
        for (const chunk of options.chunks) {
          if (answered || req.destroyed) break;
          if (!req.write(chunk)) await new Promise((r) => { req.once('drain', r); req.once('close', r); });
        }
        req.end();
      } else {
        req.end(options.body);
      }
    })();
  });
}
