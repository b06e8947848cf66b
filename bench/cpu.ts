/**
 * How much CPU other work on the machine took during a measurement (Linux /proc; elsewhere it
 * reports nothing). "Other" is every process except the bench itself, its child servers and
 * PostgreSQL (whose backends serve the bench; a busy neighbour's PostgreSQL work is not told apart).
 * On a small machine a test suite running beside the bench skews every number, and this says when.
 */
import fs from 'node:fs/promises';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux the bench is meant for

interface Snapshot {
  at: number;
  ticks: Map<number, { ticks: number; postgres: boolean }>;
}

async function processTicks(pid: number): Promise<{ ticks: number; postgres: boolean } | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // fields[11], fields[12]: utime, stime (the 14th and 15th fields of the whole line)
    return { ticks: Number(fields[11]) + Number(fields[12]), postgres: comm === 'postgres' };
  } catch {
    return undefined;
  }
}

async function snapshot(): Promise<Snapshot | undefined> {
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return undefined;
  }
  const ticks = new Map<number, { ticks: number; postgres: boolean }>();
  await Promise.all(
    entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
      const t = await processTicks(Number(e));
      if (t) ticks.set(Number(e), t);
    }),
  );
  return { at: Date.now(), ticks };
}

export interface CpuUse {
  /** Average cores used by processes other than ours and PostgreSQL. */
  otherCores: number;
  /** Average cores used by PostgreSQL processes. */
  postgresCores: number;
}

/** Runs `work` and reports the CPU the rest of the machine used meanwhile. */
export async function withCpuAccounting<T>(ownPids: ReadonlyArray<number | undefined>, work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse | undefined }> {
  const before = await snapshot();
  const result = await work();
  const after = await snapshot();
  if (!before || !after) return { result, cpu: undefined };
  const own = new Set(ownPids.filter((p): p is number => p !== undefined));
  let other = 0;
  let postgres = 0;
  for (const [pid, end] of after.ticks) {
    if (own.has(pid)) continue;
    const used = end.ticks - (before.ticks.get(pid)?.ticks ?? 0);
    if (end.postgres) postgres += used;
    else other += used;
  }
  const seconds = (after.at - before.at) / 1000;
  return { result, cpu: { otherCores: other / TICKS_PER_SECOND / seconds, postgresCores: postgres / TICKS_PER_SECOND / seconds } };
}

/**
 * Cores used while `work` ran, per named process (a pid each), by PostgreSQL, and by everything
 * else on the machine. Undefined where /proc is not available.
 */
export async function withCpuBreakdown<T>(named: Record<string, number | undefined>, work: () => Promise<T>): Promise<{ result: T; cores: Record<string, number> | undefined }> {
  const before = await snapshot();
  const result = await work();
  const after = await snapshot();
  if (!before || !after) return { result, cores: undefined };
  const byPid = new Map<number, string>();
  for (const [name, pid] of Object.entries(named)) if (pid !== undefined) byPid.set(pid, name);
  const ticks: Record<string, number> = Object.fromEntries([...Object.keys(named), 'PostgreSQL', 'other'].map((k) => [k, 0]));
  for (const [pid, end] of after.ticks) {
    const used = end.ticks - (before.ticks.get(pid)?.ticks ?? 0);
    const name = byPid.get(pid) ?? (end.postgres ? 'PostgreSQL' : 'other');
    ticks[name] = (ticks[name] ?? 0) + used;
  }
  const seconds = (after.at - before.at) / 1000;
  return { result, cores: Object.fromEntries(Object.entries(ticks).map(([k, v]) => [k, v / TICKS_PER_SECOND / seconds])) };
}

/** CPU ticks (user + system) of each of these processes, read now; processes gone are left out. */
export async function ticksOf(pids: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  await Promise.all(
    pids.map(async (pid) => {
      const t = await processTicks(pid);
      if (t) out.set(pid, t.ticks);
    }),
  );
  return out;
}

/**
 * Milliseconds of CPU the given PostgreSQL backends used between two readings. A machine shared
 * with other work runs other databases' backends too, and the PostgreSQL column counts them all;
 * these are only the backends connected to the measured databases. Backends that ended between the
 * readings are missed and the server's own background processes (WAL writer, checkpointer) are
 * left out, so this is a lower bound where the column is an upper one.
 */
export function backendCpuMs(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let ticks = 0;
  for (const [pid, end] of after) ticks += end - (before.get(pid) ?? 0);
  return (ticks / TICKS_PER_SECOND) * 1000;
}
