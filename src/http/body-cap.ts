import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BodyTooLargeError } from './request-errors.ts';

/**
 * Counts the bytes that actually arrive and fails the stream past the limit. A Content-Length is
 * only a claim: a chunked upload has none, so a cap that reads the header alone holds nothing.
 * Put it between the request and wherever the body goes (a file, a parser); the pipeline's
 * failure leaves the sink to be cleaned up by its owner.
 */
export function byteCap(limitBytes: number): Transform {
  let received = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      received += chunk.length;
      if (received > limitBytes) done(new BodyTooLargeError(limitBytes));
      else done(null, chunk);
    },
  });
}

/** Refuses at once what declares itself too large; what does not declare is counted by byteCap. */
export function declaredTooLarge(contentLength: string | undefined, limitBytes: number): boolean {
  return contentLength !== undefined && /^\d+$/.test(contentLength) && Number(contentLength) > limitBytes;
}

/**
 * Streams a request body into a sink through byteCap. On failure the request is left unread (not
 * destroyed), so the error can still be answered; the answer closes the connection.
 */
export async function receiveBody(req: IncomingMessage, sink: Writable, limitBytes: number): Promise<void> {
  const cap = byteCap(limitBytes);
  const aborted = () => {
    if (!req.complete) cap.destroy(new Error('the upload was cut off before its end'));
  };
  req.once('close', aborted);
  req.once('error', aborted);
  req.pipe(cap);
  try {
    await pipeline(cap, sink);
  } catch (err) {
    req.unpipe(cap);
    req.pause();
    throw err;
  } finally {
    req.off('close', aborted);
    req.off('error', aborted);
  }
}
