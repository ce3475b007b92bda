// Bearer-token authentication for the HTTP API. Tokens are compared in constant time (both
// sides hashed to equal length first, so neither content nor length leaks through timing),
// and the service refuses to listen beyond loopback without a token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from '../errors/index.js';
import type { Secret } from '../config/index.js';

/** Whether `host` names only this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped !== null && mapped[1]!.startsWith('127.');
}

/**
 * Throws {@link ConfigError} (naming `ANIMUS_API_TOKEN`) when the API would listen on a
 * non-loopback address without a token: an open memory store on the network is never
 * what anyone meant.
 */
export function assertListenAllowed(host: string, token: Secret | undefined): void {
  if (token === undefined && !isLoopbackHost(host)) {
    throw new ConfigError(
      'ANIMUS_API_TOKEN',
      `ANIMUS_API_TOKEN: is required to listen on ${host} (not a loopback address); ` +
        'set one (example: ANIMUS_API_TOKEN=$(openssl rand -hex 32)) or listen on ANIMUS_HTTP_HOST=127.0.0.1',
    );
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Result of checking an `Authorization` header. */
export type AuthOutcome = 'ok' | 'missing' | 'malformed' | 'wrong';

/**
 * Checks an `Authorization: Bearer <token>` header against the configured token in
 * constant time. With no token configured every request is `ok` (loopback only, see
 * {@link assertListenAllowed}).
 */
export function checkBearer(header: string | undefined, token: Secret | undefined): AuthOutcome {
  if (token === undefined) return 'ok';
  if (header === undefined || header.trim() === '') return 'missing';
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (m === null) return 'malformed';
  return timingSafeEqual(digest(m[1]!), digest(token.reveal())) ? 'ok' : 'wrong';
}
