/** The OAuth, JWT and rate-limit settings are validated at start-up like every other setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/env.js';

const jwtEnv = { ROSTER_JWT_ISSUER: 'https://idp.example.com/', ROSTER_JWT_AUDIENCE: 'roster', ROSTER_JWKS_URL: 'https://idp.example.com/keys' };

test('defaults: external JWTs off, 15-minute tokens, 30-day key rotation, 50/s with bursts of 200', () => {
  const config = loadConfig({});
  assert.equal(config.jwt, undefined);
  assert.deepEqual(config.oauth, { tokenTtlSeconds: 900, keyRotationDays: 30 });
  assert.deepEqual(config.rateLimit, { perSecond: 50, burst: 200 });
});

test('the JWT settings go together and are parsed', () => {
  const config = loadConfig({ ...jwtEnv, ROSTER_JWT_ALGORITHMS: 'ES256, PS256', ROSTER_JWT_CLOCK_SKEW_SECONDS: '5' });
  assert.deepEqual(config.jwt, { issuer: jwtEnv.ROSTER_JWT_ISSUER, audience: 'roster', jwksUrl: jwtEnv.ROSTER_JWKS_URL, algorithms: ['ES256', 'PS256'], clockSkewSeconds: 5, jwksRefreshCooldownSeconds: 30 });
  assert.throws(() => loadConfig({ ROSTER_JWT_ISSUER: 'https://idp.example.com/' }), (e: Error) => e instanceof ConfigError && /ROSTER_JWT_AUDIENCE and ROSTER_JWKS_URL together/.test(e.message));
});

test('wrong values name the variable: symmetric or unknown algorithms, skew, TTL, limits', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...jwtEnv, ROSTER_JWT_ALGORITHMS: 'HS256' }, /ROSTER_JWT_ALGORITHMS.*asymmetric/],
    [{ ...jwtEnv, ROSTER_JWT_ALGORITHMS: 'none' }, /ROSTER_JWT_ALGORITHMS/],
    [{ ...jwtEnv, ROSTER_JWKS_URL: 'not a url' }, /ROSTER_JWKS_URL/],
    [{ ROSTER_JWT_CLOCK_SKEW_SECONDS: '3600' }, /ROSTER_JWT_CLOCK_SKEW_SECONDS/],
    [{ ROSTER_OAUTH_TOKEN_TTL_SECONDS: '5' }, /ROSTER_OAUTH_TOKEN_TTL_SECONDS/],
    [{ ROSTER_RATE_LIMIT_PER_SECOND: '-1' }, /ROSTER_RATE_LIMIT_PER_SECOND/],
    [{ ROSTER_RATE_LIMIT_BURST: '0' }, /ROSTER_RATE_LIMIT_BURST/],
  ];
  for (const [env, message] of cases) assert.throws(() => loadConfig(env), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(env));
});
