import { Client, Connection } from '@temporalio/client';
import { toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { tracingClientInterceptors } from '../observability/tracing.ts';

/**
 * How every part of Kameng reaches Temporal (worker, CLI, dashboard client, tests): one builder of
 * connection options from the profile src/config.ts loaded the way Temporal's own tools do
 * (@temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
 * TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE). An API key turns TLS on; a client certificate and key
 * make an mTLS connection. The local dev server gets no profile: plain loopback.
 */
export function temporalConnectionOptions(address: string, profile: ClientConfigProfile = {}): NativeConnectionOptions {
  const { connectionOptions } = toClientOptions({ ...profile, address });
  return Object.fromEntries(Object.entries(connectionOptions).filter(([, v]) => v !== undefined)) as NativeConnectionOptions;
}

export function connectTemporal(address: string, profile?: ClientConfigProfile): Promise<Connection> {
  return Connection.connect(temporalConnectionOptions(address, profile));
}

export function connectTemporalWorker(address: string, profile?: ClientConfigProfile): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(address, profile));
}

export async function temporalClient(address: string, namespace: string, profile?: ClientConfigProfile): Promise<{ client: Client; connection: Connection }> {
  const connection = await connectTemporal(address, profile);
  return { client: new Client({ connection, namespace, interceptors: tracingClientInterceptors() }), connection };
}
