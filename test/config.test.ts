import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/env.js';

test('defaults make a working configuration', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.databaseUrl, undefined);
  assert.match(config.dataDir, /\.roster-data$/);
  assert.equal(config.maxPageSize, 1000);
  assert.equal(config.maxJsonDepth, 64);
});

test('ROSTER_MAX_JSON_DEPTH is read and kept within 8 to 256', () => {
  assert.equal(loadConfig({ ROSTER_MAX_JSON_DEPTH: '32' }).maxJsonDepth, 32);
  assert.throws(() => loadConfig({ ROSTER_MAX_JSON_DEPTH: '4' }), /ROSTER_MAX_JSON_DEPTH/);
  assert.throws(() => loadConfig({ ROSTER_MAX_JSON_DEPTH: '1000' }), /ROSTER_MAX_JSON_DEPTH/);
});

test('a wrong value stops start-up with the variable and the problem', () => {
  assert.throws(() => loadConfig({ PORT: '70000' }), (e: unknown) => e instanceof ConfigError && /PORT/.test(e.message));
  assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must be a postgres/);
  assert.throws(() => loadConfig({ ROSTER_BOOTSTRAP_TOKEN: 'short' }), /ROSTER_BOOTSTRAP_TOKEN: must be at least 20/);
  assert.throws(() => loadConfig({ ROSTER_DEFAULT_PAGE_SIZE: '500', ROSTER_MAX_PAGE_SIZE: '100' }), /must not exceed/);
});
