import { createRequire } from 'node:module';
import type { temporal } from '@temporalio/proto';

/**
 * The JSON history format of `historyToJSON` / `historyFromJSON` (@temporalio/common/lib/proto-utils),
 * which fail as installed ("type must be a Type"): @temporalio/common and @temporalio/proto each
 * carry their own copy of protobufjs, and protojson from one does not know the other's types. The
 * same conversion, with protojson from @temporalio/proto's own copy.
 */
const require = createRequire(import.meta.url);
const protoRequire = createRequire(require.resolve('@temporalio/proto'));
const proto = require('@temporalio/proto') as typeof import('@temporalio/proto');
const { toJson, fromJson } = protoRequire('protobufjs/ext/protojson') as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot<T>(root: T): T & { lookupType(name: string): unknown } };
const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');

export type History = temporal.api.history.v1.IHistory;

export function historyToJSON(history: History): string {
  return JSON.stringify(toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 1);
}

export function historyFromJSON(json: string | unknown): History {
  const loaded = fromJson(historyType, typeof json === 'string' ? JSON.parse(json) : json, { ignoreUnknownFields: true });
  if (!loaded) throw new TypeError('not a workflow history');
  return loaded as History;
}
