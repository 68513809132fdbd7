import { randomUUID, timingSafeEqual } from 'node:crypto';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { logger, withLogContext } from './log.ts';
import { httpRequestDuration, registry } from './metrics.ts';
import { temporalMetricsAddress } from './temporal-runtime.ts';
import { tracingEnabled } from './tracing.ts';

const log = logger('http');
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Every request: a request id (the caller's X-Request-Id if it is a plain token, else a new one;
 * echoed back), carried by every log line made while the request is handled; its latency and status
 * per route pattern (never the raw path: ids would make a series each); one log line when it ends.
 */
export function observeRequests() {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const end = httpRequestDuration.startTimer();
    // a span per request (a no-op without OTEL_EXPORTER_OTLP_ENDPOINT); workflows it starts continue the trace
    const span = trace.getTracer('kameng-http').startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'kameng.request_id': requestId } });
    res.once('finish', () => {
      const route = routeOf(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const seconds = end({ method: req.method, route, status: String(res.statusCode) });
      const fields = { requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) };
      if (res.statusCode >= 500) log.error(fields, 'request failed');
      else if (res.statusCode >= 400) log.info(fields, 'request refused');
      else log.debug(fields, 'request');
    });
    const fields = tracingEnabled() ? { requestId, traceId: span.spanContext().traceId } : { requestId };
    withLogContext(fields, () => context.with(trace.setSpan(context.active(), span), () => next()));
  };
}

/** The matched route's pattern, with the router's mount point; `unmatched` for a 404 or a static file. */
function routeOf(req: Request): string {
  const pattern = req.route?.path;
  if (typeof pattern !== 'string') return req.baseUrl ? `${req.baseUrl}/*` : 'unmatched';
  return `${req.baseUrl ?? ''}${pattern}`;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * GET /metrics in Prometheus text format: Kameng's families, then the Temporal SDK's worker metrics
 * (its own exporter on a loopback port, appended). Without a token only loopback clients that came
 * through no proxy may read it; with KAMENG_METRICS_TOKEN, `Authorization: Bearer <token>` from anywhere.
 * Mounted before the dashboard's session middleware: Prometheus has no dashboard login.
 */
export function mountMetrics(app: express.Express, options: { token?: string }): void {
  app.get('/metrics', async (req, res) => {
    if (!allowed(req, options.token)) {
      res.status(options.token ? 401 : 403).type('text').send(options.token ? 'metrics: Authorization: Bearer <KAMENG_METRICS_TOKEN> required\n' : 'metrics: loopback only (set KAMENG_METRICS_TOKEN to allow other hosts)\n');
      return;
    }
    const own = await registry.metrics();
    const sdk = await temporalSdkMetrics();
    res.type(registry.contentType).send(sdk ? `${own}\n${sdk}` : own);
  });
}

function allowed(req: Request, token: string | undefined): boolean {
  if (token) {
    const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
  const proxied = req.get('x-forwarded-for') !== undefined || req.get('forwarded') !== undefined;
  return !proxied && LOOPBACK.has(req.socket.remoteAddress ?? '');
}

async function temporalSdkMetrics(): Promise<string | undefined> {
  const address = temporalMetricsAddress();
  if (!address) return undefined;
  try {
    const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  } catch (err) {
    log.warn({ err, address }, 'Temporal SDK metrics did not answer');
    return undefined;
  }
}
