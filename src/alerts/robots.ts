import { createHmac } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { KamengError } from '../errors.ts';
import { refusalReason } from '../callbacks/address-policy.ts';

export type ChannelKind = 'dingtalk' | 'wecom' | 'feishu' | 'webhook';
export const CHANNEL_KINDS: ChannelKind[] = ['dingtalk', 'wecom', 'feishu', 'webhook'];

/** A robot URL that can never be delivered to (bad scheme, private address): retrying will not help. */
export class AlertChannelRefusedError extends KamengError {
  constructor(message: string) {
    super('ALERT_CHANNEL_REFUSED', message);
  }
}

/** The robot did not take it (timeout, non-2xx, an error code in its answer): retried. */
export class AlertDeliveryFailedError extends KamengError {
  constructor(message: string) {
    super('ALERT_DELIVERY_FAILED', message, { retryable: true });
  }
}

export const WEBHOOK_TIMESTAMP_HEADER = 'x-kameng-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'x-kameng-signature';

/** DingTalk custom robot: HMAC-SHA256(secret, `${timestampMs}\n${secret}`), base64 (sent URL-encoded). */
export const dingtalkSign = (secret: string, timestampMs: string) => createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
/** Feishu / Lark custom bot: `${timestampSeconds}\n${secret}` is the HMAC-SHA256 KEY over an empty message, base64. */
export const feishuSign = (secret: string, timestampSeconds: string) => createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
/** Our generic webhook: HMAC-SHA256(secret, `${timestampMs}.${body}`), hex. */
export const webhookSign = (secret: string, timestampMs: string, body: string) => createHmac('sha256', secret).update(`${timestampMs}.${body}`).digest('hex');

export interface AlertMessage {
  title: string;
  /** Markdown-ish lines. */
  text: string;
  /** For the generic webhook: the structured notice. */
  payload: Record<string, unknown>;
}

/**
 * The request a robot kind expects: DingTalk signs in the query string, Feishu in the body, WeCom
 * carries its key in the URL (the key is the secret: the URL is kept sealed whole), the generic
 * webhook signs the body in headers.
 */
export function robotRequest(kind: ChannelKind, url: string, secret: string, message: AlertMessage, now = new Date()): { url: string; body: string; headers: Record<string, string> } {
  const ms = String(now.getTime());
  switch (kind) {
    case 'dingtalk': {
      const u = new URL(url);
      u.searchParams.set('timestamp', ms);
      u.searchParams.set('sign', dingtalkSign(secret, ms));
      return { url: u.toString(), headers: {}, body: JSON.stringify({ msgtype: 'markdown', markdown: { title: message.title, text: `### ${message.title}\n\n${message.text}` } }) };
    }
    case 'feishu': {
      const seconds = String(Math.floor(now.getTime() / 1000));
      return { url, headers: {}, body: JSON.stringify({ timestamp: seconds, sign: feishuSign(secret, seconds), msg_type: 'text', content: { text: `${message.title}\n${message.text}` } }) };
    }
    case 'wecom': {
      const u = new URL(url);
      if (secret) u.searchParams.set('key', secret);
      return { url: u.toString(), headers: {}, body: JSON.stringify({ msgtype: 'markdown', markdown: { content: `### ${message.title}\n${message.text}` } }) };
    }
    case 'webhook': {
      const body = JSON.stringify(message.payload);
      return { url, body, headers: { [WEBHOOK_TIMESTAMP_HEADER]: ms, [WEBHOOK_SIGNATURE_HEADER]: webhookSign(secret, ms, body) } };
    }
  }
}

/** Checks a robot URL before it is stored: http(s), and not a private address unless allowed. */
export function checkRobotUrl(url: string, allowPrivate: boolean): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AlertChannelRefusedError(`robot URL "${url.slice(0, 200)}" is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new AlertChannelRefusedError(`robot URL must be http(s), not ${u.protocol}`);
  const literal = u.hostname.replace(/^\[|\]$/g, '');
  const reason = net.isIP(literal) ? refusalReason(literal) : undefined;
  if (reason && !allowPrivate) throw new AlertChannelRefusedError(`robot host ${literal} is a private or loopback address (${reason})`);
  return u;
}

/**
 * POSTs a notice to a robot through the SSRF policy (src/callbacks/address-policy.ts: the address
 * is checked after DNS too). Resolves when the robot took it: a 2xx, and for the chat robots an
 * answer without an error code (they answer 200 with errcode / code on a bad signature).
 */
export function sendToRobot(kind: ChannelKind, request: { url: string; body: string; headers: Record<string, string> }, options: { allowPrivate: boolean; timeoutMs?: number }): Promise<void> {
  const url = checkRobotUrl(request.url, options.allowPrivate);
  const lookup: LookupFunction = (hostname, opts, callback) => {
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = options.allowPrivate ? undefined : list.find((a) => refusalReason(a.address));
      if (refused) return callback(new AlertChannelRefusedError(`robot host ${hostname} resolves to a private or loopback address (${refusalReason(refused.address)})`), '', 4);
      if ((opts as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
  const client = url.protocol === 'https:' ? https : http;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST', lookup, timeout: timeoutMs,
      headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(request.body), ...request.headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { if (text.length < 4096) text += d; });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        // the host only, never the URL: a WeCom URL carries its key, a DingTalk one its access token
        if (status < 200 || status >= 300) return reject(new AlertDeliveryFailedError(`${kind} robot at ${url.host} answered ${status}`));
        if (kind !== 'webhook') {
          let answer: Record<string, unknown> = {};
          try { answer = JSON.parse(text); } catch { /* not JSON: taken as accepted */ }
          const code = answer.errcode ?? answer.code ?? answer.StatusCode ?? 0;
          if (code !== 0) return reject(new AlertDeliveryFailedError(`${kind} robot at ${url.host} refused the notice: ${String(code)} ${String(answer.errmsg ?? answer.msg ?? '').slice(0, 200)}`));
        }
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new AlertDeliveryFailedError(`${kind} robot at ${url.host} timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof KamengError ? err : new AlertDeliveryFailedError(`${kind} robot at ${url.host}: ${err.message}`)));
    req.end(request.body);
  });
}
