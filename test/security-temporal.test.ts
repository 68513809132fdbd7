import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { temporalConnectionOptions } from '../src/runtime/temporal-connection.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kameng-tls-'));
const cert = path.join(dir, 'client.pem');
const key = path.join(dir, 'client.key');
const ca = path.join(dir, 'ca.pem');
fs.writeFileSync(cert, 'CERT');
fs.writeFileSync(key, 'KEY');
fs.writeFileSync(ca, 'CA');
const toml = path.join(dir, 'temporal.toml');
fs.writeFileSync(toml, `[profile.prod]\naddress = "prod.tmprl.cloud:7233"\nnamespace = "kameng.prod"\napi_key = "from-profile"\n`);

/** No HOME: the user's own ~/.config/temporalio/temporal.toml stays out of these tests. */
const load = (env: Record<string, string>) => loadConfig(env, dir);
const problems = (env: Record<string, string>) => {
  try {
    load(env);
    return [];
  } catch (err) {
    return (err as { problems?: string[] }).problems ?? [(err as Error).message];
  }
};

describe('Temporal connection settings (as Temporal tools read them)', () => {
  it('reads address, namespace and API key from the standard variables', () => {
    const c = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'kameng', TEMPORAL_API_KEY: 'k-1' });
    expect(c.temporal.address).toBe('temporal.internal:7233');
    expect(c.temporal.namespace).toBe('kameng');
    expect(c.temporal.connection.apiKey).toBe('k-1');
  });

  it('reads a profile from TEMPORAL_CONFIG_FILE, with variables taking precedence', () => {
    const c = load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod', TEMPORAL_API_KEY: 'from-env' });
    expect(c.temporal.address).toBe('prod.tmprl.cloud:7233');
    expect(c.temporal.namespace).toBe('kameng.prod');
    expect(c.temporal.connection.apiKey).toBe('from-env');
  });

  it('refuses, with a clear message each, what would fail at the first connection', () => {
    expect(problems({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }).join('\n')).toMatch(/Temporal profile "staging".*not found/);
    expect(problems({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: key }).join('\n'))
      .toMatch(/TEMPORAL_TLS_CLIENT_CERT_PATH .*missing\.pem does not exist/);
    expect(problems({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: cert }).join('\n')).toMatch(/client certificate needs its key/);
    expect(problems({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_TLS_CLIENT_KEY_PATH: key }).join('\n')).toMatch(/client key needs its certificate/);
    expect(problems({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).join('\n')).toMatch(/clear text/);
    expect(problems({ TEMPORAL_API_KEY: 'k' }).join('\n')).toMatch(/set TEMPORAL_ADDRESS/);
    expect(problems({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_TLS_SERVER_CA_CERT_PATH: dir }).join('\n')).toMatch(/is not a file/);
  });

  it('builds an API-key connection: the key as apiKey, TLS on', () => {
    const c = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_API_KEY: 'k-1' });
    const options = temporalConnectionOptions(c.temporal.address!, c.temporal.connection);
    expect(options).toMatchObject({ address: 'temporal.internal:7233', apiKey: 'k-1', tls: true });
  });

  it('builds an mTLS connection: client certificate and key as tls.clientCertPair, the CA and server name', () => {
    const c = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    const options = temporalConnectionOptions(c.temporal.address!, c.temporal.connection);
    const tls = options.tls as { clientCertPair: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate: Uint8Array; serverNameOverride: string };
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe('CERT');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY');
    expect(Buffer.from(tls.serverRootCACertificate).toString()).toBe('CA');
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(options.apiKey).toBeUndefined();
  });

  it('connects to the local dev server in plain text, with no profile', () => {
    expect(temporalConnectionOptions('127.0.0.1:7233')).toEqual({ address: '127.0.0.1:7233' });
  });
});
