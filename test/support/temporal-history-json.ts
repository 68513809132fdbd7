import { createRequire } from 'node:module';
import type * as protoTypes from '@temporalio/proto';

type History = protoTypes.temporal.api.history.v1.IHistory;

/**
 * historyToJSON / historyFromJSON of @temporalio/common/lib/proto-utils, made to work here: in
 * this install @temporalio/common carries protobufjs 8 for its JSON codec while @temporalio/proto
 * builds its types with protobufjs 7, and the codec refuses the other copy's types ("type must be
 * a Type"). The same codec over the same descriptors, loaded into protobufjs 8, writes and reads
 * the same JSON (the format `temporal workflow show --output json` writes).
 */
const here = createRequire(import.meta.url);
const proto: typeof protoTypes = here('@temporalio/proto');
const { patchProtobufRoot } = here('@temporalio/proto/lib/patch-protobuf-root');
const fromCommon = createRequire(here.resolve('@temporalio/common/lib/proto-utils'));
const protobuf8 = fromCommon('protobufjs');
const { toJson, fromJson } = fromCommon('protobufjs/ext/protojson');
const historyType = protobuf8.Root.fromJSON((patchProtobufRoot(proto) as any).toJSON()).lookupType('temporal.api.history.v1.History');

export function historyToJSON(history: History): string {
  return JSON.stringify(toJson(historyType, historyType.fromObject(proto.temporal.api.history.v1.History.toObject(proto.temporal.api.history.v1.History.fromObject(history)))), null, 2);
}

export function historyFromJSON(json: unknown): History {
  const message = fromJson(historyType, json, { ignoreUnknownFields: true });
  return proto.temporal.api.history.v1.History.fromObject(historyType.toObject(message));
}
