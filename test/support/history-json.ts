import { createRequire } from 'node:module';
import type * as protoTypes from '@temporalio/proto';

/**
 * Temporal's JSON history format (as `temporal workflow show --output json` writes it), the same as
 * `historyToJSON`/`historyFromJSON` of @temporalio/common/lib/proto-utils. Those two throw "type must
 * be a Type" in this install: @temporalio/common and @temporalio/proto each carry their own copy of
 * protobufjs 8 (the top level has 7 for grpc), and protojson checks `instanceof` against its own copy.
 * Here protojson comes from the copy @temporalio/proto was built with.
 */
const require = createRequire(import.meta.url);
const proto = require('@temporalio/proto') as typeof protoTypes;
const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root');
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
};
const historyType = (patchProtobufRoot(proto) as any).lookupType('temporal.api.history.v1.History');

export type History = protoTypes.temporal.api.history.v1.IHistory;

export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

export function historyFromJSON(json: unknown): History {
  return protojson.fromJson(historyType, typeof json === 'string' ? JSON.parse(json) : json, { ignoreUnknownFields: true }) as History;
}
