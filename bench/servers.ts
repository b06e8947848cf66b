/**
 * The servers under load run as child processes (`node --import tsx <entry>`), so the load
 * generator never shares an event loop with them. Both listen on 127.0.0.1 and are ready when
 * GET /readyz answers 200.
 *
 * Roster runs in an empty working directory, so a .roster-data in the checkout is not picked up; the
 * access policy is the repo's default policy.yaml (as a deployment runs it; issue 18), or the file
 * BENCH_POLICY names, or none with BENCH_POLICY=none. Variables
 * in the bench's own environment are passed on (callers set ROSTER_* there for a run, e.g. the
 * sync bench's ROSTER_CONNECTORS_FILE), then the ones set here override them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from './ports.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
// Roster applies its policy to every seeded user before it is ready: a minute at 10,000 users on a busy 2-core machine.
const READY_TIMEOUT_MS = 600_000;

export interface ChildServer {
  name: string;
  baseUrl: string;
  pid: number | undefined;
  /** The last few kB the process wrote to stdout/stderr. */
  output(): string;
  stop(): Promise<void>;
}

async function waitReady(name: string, child: ChildProcess, url: string, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startChild(name: string, entry: string, args: string[], env: Record<string, string>): Promise<ChildServer> {
  const port = await freePort();
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), 'roster-bench-cwd-'));
  // BENCH_CPU_PROF_DIR: each server writes a V8 CPU profile there when it stops (open it in
  // Chrome DevTools or speedscope) — how the figures in the closing notes were explained.
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF_DIR)}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', TSX_LOADER, path.join(REPO_ROOT, entry), ...args], {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    await stopChild(child);
    await fs.rm(cwd, { recursive: true, force: true });
  };
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitReady(name, child, `${baseUrl}/readyz`, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, baseUrl, pid: child.pid, output: () => output, stop };
}

export interface RosterOptions {
  databaseUrl: string;
  bootstrapToken: string;
  cursorSecret: string;
}

/** The policy file the bench's Roster enforces: BENCH_POLICY, default the repo's policy.yaml; "none" for none. */
export function benchPolicyFile(): string | undefined {
  const chosen = process.env.BENCH_POLICY ?? path.join(REPO_ROOT, 'policy.yaml');
  return chosen === 'none' || chosen === '' ? undefined : path.resolve(chosen);
}

export function startRoster(options: RosterOptions): Promise<ChildServer> {
  const policyFile = benchPolicyFile();
  return startChild('Roster', 'src/main.ts', ['serve'], {
    ...(policyFile ? { ROSTER_POLICY_FILE: policyFile } : {}),
    DATABASE_URL: options.databaseUrl,
    ROSTER_BOOTSTRAP_TOKEN: options.bootstrapToken,
    ROSTER_CURSOR_SECRET: options.cursorSecret,
    // One token sends every request: the per-token rate limit would answer 429 to most of them.
    ROSTER_RATE_LIMIT_PER_SECOND: '0',
    LOG_LEVEL: process.env.BENCH_ROSTER_LOG_LEVEL ?? 'error',
  });
}

/** `databaseUrl`: also serve the bare-Express-plus-one-SELECT reference (see bare-express.ts). */
export function startBareExpress(responsesFile: string, databaseUrl?: string): Promise<ChildServer> {
  return startChild('bare Express', 'bench/bare-express.ts', [responsesFile], { LOG_LEVEL: 'error', ...(databaseUrl ? { BARE_DATABASE_URL: databaseUrl } : {}) });
}

/** The in-memory scimmy + express reference (see scimmy-memory.ts), loaded once from `databaseUrl`. */
export function startInMemory(databaseUrl: string, token: string): Promise<ChildServer> {
  return startChild('in-memory scimmy', 'bench/scimmy-memory.ts', [], { MEMORY_DATABASE_URL: databaseUrl, MEMORY_TOKEN: token });
}
