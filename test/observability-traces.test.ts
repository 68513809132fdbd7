import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import express from 'express';
import { observeRequests } from '../src/observability/http.ts';
import { flushTraces, startTracing, tracingClientInterceptors } from '../src/observability/tracing.ts';
import { connectTemporal } from '../src/runtime/temporal-connection.ts';
import { bundleWorkflows, startWorkers, type RunningWorkers } from '../src/runtime/worker.ts';
import { openHarness, type Harness } from './support/harness.ts';

/**
 * Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, one trace runs from an HTTP request through the
 * workflow it starts and that workflow's activities, and reaches the collector over OTLP/HTTP.
 * The collector is a small fake server; the Temporal server, worker and workflow are real.
 */

const received: any[] = [];
let collector: http.Server;
let h: Harness;
let workers: RunningWorkers;
let api: http.Server;

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/v1/traces') received.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  startTracing({ otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, serviceName: 'kameng-test' });
  h = await openHarness({ worker: false });
  // tracing is on: this bundle carries the workflow interceptors, this worker the span sink
  workers = await startWorkers({ address: inject('temporalAddress'), namespace: inject('namespace'), taskQueues: [h.taskQueue], deps: h.deps, bundle: await bundleWorkflows() });
  const client = new Client({ connection: await connectTemporal(inject('temporalAddress')), namespace: inject('namespace'), interceptors: tracingClientInterceptors() });
  const app = express();
  app.use(observeRequests());
  app.post('/health', async (_req, res) => {
    res.json(await client.workflow.execute('platformHealthCheck', { taskQueue: h.taskQueue, workflowId: `traced-health-${Date.now()}` }));
  });
  api = app.listen(0, '127.0.0.1');
  await new Promise((r) => api.once('listening', r));
});

afterAll(async () => {
  api?.close();
  await workers?.shutdown();
  await h?.close();
  collector?.close();
});

it('one trace from the HTTP request through the workflow and its activities, exported over OTLP', async () => {
  const res = await fetch(`http://127.0.0.1:${(api.address() as AddressInfo).port}/health`, { method: 'POST' });
  expect(res.status).toBe(200);
  await flushTraces();
  await expect.poll(async () => { await flushTraces(); return spans().some((s) => s.name.startsWith('RunActivity')); }, { timeout: 20_000 }).toBe(true);
  const all = spans();
  const root = all.find((s) => s.name === 'POST /health')!;
  expect(root).toBeTruthy();
  const inTrace = all.filter((s) => s.traceId === root.traceId).map((s) => s.name);
  expect(inTrace).toEqual(expect.arrayContaining(['POST /health', 'StartWorkflow:platformHealthCheck', 'RunWorkflow:platformHealthCheck']));
  expect(inTrace.some((n) => n.startsWith('RunActivity:'))).toBe(true);
  expect(all.every((s) => s.service === 'kameng-test')).toBe(true);
});

function spans(): { name: string; traceId: string; service: string }[] {
  return received.flatMap((r) => r.resourceSpans.flatMap((rs: any) => {
    const service = rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value?.stringValue;
    return rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => ({ name: s.name, traceId: s.traceId, service })));
  }));
}
