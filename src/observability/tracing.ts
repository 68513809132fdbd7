import { createRequire } from 'node:module';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import { logger } from './log.ts';

/**
 * Traces (OpenTelemetry), only when OTEL_EXPORTER_OTLP_ENDPOINT is set: a span per HTTP request
 * (src/observability/http.ts), carried by the Temporal client into the workflow it starts
 * (@temporalio/interceptors-opentelemetry: client, workflow and activity interceptors), exported over
 * OTLP/HTTP to <endpoint>/v1/traces. Without an endpoint nothing is installed and nothing changes:
 * the workflow bundle has no tracing interceptors, the worker no sink.
 */

interface Tracing { provider: NodeTracerProvider; processor: SpanProcessor; resource: Resource }
let tracing: Tracing | undefined;

export function startTracing(settings: { otlpEndpoint: string | undefined; serviceName: string }): { enabled: boolean; shutdown(): Promise<void> } {
  if (tracing || !settings.otlpEndpoint) return { enabled: Boolean(tracing), shutdown: async () => {} };
  const resource = new Resource({ 'service.name': settings.serviceName });
  const exporter = new OTLPTraceExporter({ url: `${settings.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const processor = new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  tracing = { provider, processor, resource };
  logger('tracing').info({ endpoint: settings.otlpEndpoint }, 'exporting traces over OTLP');
  return { enabled: true, shutdown: () => provider.shutdown() };
}

export const tracingEnabled = () => tracing !== undefined;

/** Sends the spans still buffered (a test, or a process about to exit). */
export async function flushTraces(): Promise<void> {
  await tracing?.provider.forceFlush();
}

/** The Temporal client's interceptors: a span per workflow start, signal and update, its context in the headers. */
export function tracingClientInterceptors(): ClientInterceptors | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

const require = createRequire(import.meta.url);

/** Workflow interceptor modules to bundle when tracing (the workflow side of the trace). */
export function tracingWorkflowInterceptorModules(): string[] {
  return tracing ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')] : [];
}

/** What a worker adds when tracing: activity spans, and the sink that exports the workflow's spans. */
export function tracingWorkerOptions(): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return {};
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) },
  };
}
