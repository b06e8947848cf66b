/**
 * Initial sync and reconciliation (`sync <connector> --full`): read everything the target holds,
 * compare it with what Roster wants and with what the target last acknowledged, report the drift,
 * and (unless report-only) repair it through the same per-resource sync the workers run.
 *
 *  1. Page through the target's Users and Groups.
 *  2. For each local resource in scope: linked and present → compare attributes (drift); linked
 *     but gone → re-create; not linked → adopt a remote object whose externalId is Roster's id or
 *     whose `matchOn` attribute matches, else create.
 *  3. Linked resources now out of scope → deprovision. Remote objects nobody manages → reported,
 *     never touched.
 *  4. Group membership: where the target lists members, compare them with the acknowledged ones.
 *  5. Mass-change guard over the whole plan, then repair with bounded concurrency, users before
 *     groups, with progress; a summary entry in the journal.
 * Drift is repaired by resetting what Roster believes the target acknowledged to what the target
 * actually holds; the ordinary diff then sends exactly the fix. Desired documents carry their
 * references (a manager) in the target's ids (references.ts), so a translated manager is no drift;
 * users are created managers first, so their reports' references resolve at creation.
 *
 * What each mode writes (decision 0209): a report-only run writes one `sync.full` summary and
 * nothing else; a dry run writes the summary and the exact requests it would send (`sync.dry-run`);
 * neither writes an entry saying something was adopted or changed. Only an applying run records
 * adoptions (`sync.adopt`), links and pushes.
 */
import type { Knex } from 'knex';
import { driftedAttributes, managedPart, overwrittenValues, type Overwrite } from '../../connectors/scim/compare.js';
import { attributeOperations, patchBody } from '../../connectors/scim/patch.js';
import type { Document } from '../../connectors/profile.js';
import type { Connector, ResourceType } from './connector.js';
import { createUsersInBatch } from './bulk-create.js';
import { admitDeprovisions, ensureConnectorRows } from './connector-state.js';
import { enqueueSyncJobs } from './jobs.js';
import { replaceAcknowledgedMembers, saveLink, type MemberDelta } from './links.js';
import { PushJournal } from './push-journal.js';
import { findReferences, resolveReferences, translateReferences } from './references.js';
import { ENDPOINT, listRemote } from './remote.js';
import { linkAdopted } from './remote-accounts.js';
import { syncOne, type SyncResult } from './sync-one.js';

export interface Drift {
  type: ResourceType;
  id: string;
  name: string;
  kind: 'attributes' | 'missing-remotely' | 'members';
  attributes?: string[];
  membersMissing?: number;
  membersExtra?: number;
  /** The linked object's id on the target (attributes and members drift). */
  remoteId?: string;
  /** For attributes drift: each differing attribute, what the target holds and what Roster wants. */
  differences?: Overwrite[];
}

/** A remote account (or group) no local object is linked to: an orphan for the ledger. */
export interface OrphanFinding {
  type: ResourceType;
  remoteId: string;
  name: string;
  /** What an operator needs to recognise it: userName or displayName, externalId, active, emails. */
  summary: Record<string, unknown>;
}

/** Everything one full sync found, handed to the ledger (decision 0600). */
export interface FullSyncFindings {
  connector: string;
  /** The run's request id: rows the ledger holds for this connector that this run did not see are gone. */
  runId: string;
  mode: 'report' | 'dry-run' | 'apply';
  /** The types whose remote objects were listed in full (orphans of other types are left as they are). */
  listed: ResourceType[];
  orphans: OrphanFinding[];
  drift: Drift[];
}

/**
 * Where a full sync's findings go. The governance layer implements it (src/governance/ledger-store.ts)
 * and the entry points pass it in (the sync layer sits below governance and cannot import it).
 */
export interface FindingsRecorder {
  record(db: Knex, findings: FullSyncFindings): Promise<void>;
}

/** One account matched on the target, and what taking it over overwrites there. */
export interface Adoption {
  type: ResourceType;
  id: string;
  name: string;
  remoteId: string;
  matchedOn: string;
  overwrites: Overwrite[];
}

export interface FullSyncReport {
  connector: string;
  reportOnly: boolean;
  /** The connector only journals what it would send (dryRun: true). */
  dryRun: boolean;
  remote: { users: number; groups: number };
  inScope: { users: number; groups: number };
  toCreate: { users: number; groups: number };
  adopted: { users: number; groups: number };
  /** The adoptions (at most ADOPTIONS_LISTED), with the remote values each overwrites. */
  adoptions: Adoption[];
  toDeprovision: { users: number; groups: number };
  drift: Drift[];
  unmanaged: { users: string[]; groups: string[]; userCount: number; groupCount: number };
  guardPaused: boolean;
  results: { done: number; retry: number; parked: number; waiting: number };
  durationMs: number;
}

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

export interface FullSyncOptions {
  reportOnly: boolean;
  onProgress?: (progress: Progress) => void;
  requestId?: string;
  /** Records the orphans and drift found (the governance ledger); absent: only the report has them. */
  findings?: FindingsRecorder | undefined;
}

interface LinkRow {
  resource_id: string;
  remote_id: string | null;
  state: string;
}

const UNMANAGED_SHOWN = 20;
const ADOPTIONS_LISTED = 1000;
const PAGE = 1000;
const BATCH = 200;

export async function fullSync(db: Knex, connector: Connector, options: FullSyncOptions): Promise<FullSyncReport> {
  const started = Date.now();
  const requestId = options.requestId ?? `full-sync-${started}`;
  const journal = new PushJournal(db, connector.name, requestId);
  const progress = options.onProgress ?? (() => undefined);
  await ensureConnectorRows(db, [connector.name]);
  const context = { db, connector, journal, dryRun: false };
  const report: FullSyncReport = {
    connector: connector.name,
    reportOnly: options.reportOnly,
    dryRun: connector.config.dryRun,
    remote: { users: 0, groups: 0 },
    inScope: { users: 0, groups: 0 },
    toCreate: { users: 0, groups: 0 },
    adopted: { users: 0, groups: 0 },
    adoptions: [],
    toDeprovision: { users: 0, groups: 0 },
    drift: [],
    unmanaged: { users: [], groups: [], userCount: 0, groupCount: 0 },
    guardPaused: false,
    results: { done: 0, retry: 0, parked: 0, waiting: 0 },
    durationMs: 0,
  };
  const apply = !options.reportOnly && !connector.config.dryRun;
  const mode: Mode = options.reportOnly ? 'report' : connector.config.dryRun ? 'dry-run' : 'apply';

  // 1. What the target holds. Only an applying run journals the listing's requests; the others
  // count them in their summary (decision 0209).
  let listingRequests = 0;
  const remote: Record<ResourceType, Map<string, Document>> = { User: new Map(), Group: new Map() };
  for (const type of ['User', 'Group'] as const) {
    if (type === 'Group' && !connector.config.groups) continue;
    await listRemote(
      context,
      type,
      (page) => {
        for (const doc of page) if (typeof doc.id === 'string') remote[type].set(doc.id, doc);
        progress({ phase: `reading ${type === 'User' ? 'users' : 'groups'} from the target`, done: remote[type].size, total: 0 });
      },
      { excludeMembers: type === 'Group' && !connector.profile.membersReadable },
    );
    if (apply) await journal.flush();
    else listingRequests += journal.drop();
  }
  report.remote = { users: remote.User.size, groups: remote.Group.size };

  const work: Record<ResourceType, string[]> = { User: [], Group: [] };
  // Users neither linked nor on the target: created in batches (decision 0207), managers first.
  const plainCreates: PlannedCreate[] = [];
  // Everything planned as a create: a 409 that ends in an adoption is counted as an adoption.
  const creates: Record<ResourceType, string[]> = { User: [], Group: [] };
  const managedRemote: Record<ResourceType, Set<string>> = { User: new Set(), Group: new Set() };
  for (const type of ['User', 'Group'] as const) {
    await compareType({ db, connector, type, remote: remote[type], managed: managedRemote[type], work: work[type], plainCreates, creates: creates[type], report, mode, journal });
    await journal.flush();
  }

  // 3. Remote objects nobody manages.
  const orphans: OrphanFinding[] = [];
  for (const type of ['User', 'Group'] as const) {
    const names: string[] = [];
    let count = 0;
    for (const [id, doc] of remote[type]) {
      if (managedRemote[type].has(id)) continue;
      count++;
      const name = String(type === 'User' ? doc.userName : doc.displayName);
      if (names.length < UNMANAGED_SHOWN) names.push(name);
      orphans.push({ type, remoteId: id, name, summary: orphanSummary(type, doc) });
    }
    if (type === 'User') Object.assign(report.unmanaged, { users: names, userCount: count });
    else Object.assign(report.unmanaged, { groups: names, groupCount: count });
  }

  // 5. Guard over the whole plan, then repair.
  const deprovisions = report.toDeprovision.users + report.toDeprovision.groups;
  if (apply && deprovisions > 0 && !(await admitDeprovisions(db, connector.name, connector.config.guard, deprovisions, false))) {
    report.guardPaused = true;
  }
  if ((apply || connector.config.dryRun) && !report.guardPaused && !options.reportOnly) {
    if (apply && plainCreates.length > 0) {
      const batchJournal = new PushJournal(db, connector.name, requestId);
      let done = 0;
      // A wave's users are created after the users they refer to (their managers).
      for (const wave of managersFirst(plainCreates)) {
        for (let i = 0; i < wave.length; i += BATCH) {
          const { created, fallback } = await createUsersInBatch(db, connector, wave.slice(i, i + BATCH), batchJournal);
          report.results.done += created;
          work.User.push(...fallback);
          done += created + fallback.length;
          if (batchJournal.pending >= 500) await batchJournal.flush();
          progress({ phase: 'creating users', done, total: plainCreates.length });
        }
      }
      await batchJournal.flush();
    } else work.User.push(...plainCreates.map((c) => c.id));
    for (const type of ['User', 'Group'] as const) {
      const results = await runAll(db, connector, type, work[type], requestId, (done) => progress({ phase: `syncing ${type === 'User' ? 'users' : 'groups'}`, done, total: work[type].length }));
      for (const result of results) {
        if (result.kind === 'done') report.results.done++;
        else if (result.kind === 'parked') report.results.parked++;
        else if (result.kind === 'retry') report.results.retry++;
        else report.results.waiting++;
      }
    }
  }
  // A full sync can add thousands of links at once. Until autovacuum next analyzes the table (up to
  // a minute or more), the planner has no statistics for them and may read sync_links through the
  // (connector, resource_type, remote_id) index, filtering every link of the connector, instead of
  // the primary key: measured at 1.3 ms instead of 0.06 ms per lookup with 2,000 links, on every
  // change the outbox hook and the worker handle. Fresh statistics now make that choice right.
  if (apply) {
    await db.raw('ANALYZE sync_links, sync_members');
    await countAdoptedCreates(db, connector.name, creates, report);
  }
  if (options.findings) {
    const listed = (['User', 'Group'] as const).filter((type) => type === 'User' || connector.config.groups);
    await options.findings.record(db, { connector: connector.name, runId: requestId, mode, listed, orphans, drift: report.drift });
  }
  report.durationMs = Date.now() - started;
  // A run that changed nothing says what it found, in words that claim nothing was done.
  journal.event('sync.full', {
    reportOnly: options.reportOnly,
    ...(mode === 'dry-run' ? { dryRun: true } : {}),
    remote: report.remote,
    inScope: report.inScope,
    toCreate: report.toCreate,
    ...(apply ? { adopted: report.adopted } : { toAdopt: report.adopted }),
    toDeprovision: report.toDeprovision,
    drifted: report.drift.length,
    unmanaged: { users: report.unmanaged.userCount, groups: report.unmanaged.groupCount },
    guardPaused: report.guardPaused,
    ...(mode === 'report' ? {} : { results: report.results }),
    durationMs: report.durationMs,
    ...(apply ? {} : { listingRequests }),
  });
  await journal.flush();
  if (apply) await db('sync_connectors').where({ connector: connector.name }).update({ last_full_sync_at: db.fn.now() });
  return report;
}

type Mode = FullSyncFindings['mode'];

/** The few attributes of a remote object an operator recognises it by (not its members: a group's list can be huge). */
function orphanSummary(type: ResourceType, doc: Document): Record<string, unknown> {
  const pick = (key: string) => (doc[key] === undefined ? {} : { [key]: doc[key] });
  if (type === 'Group') return { ...pick('displayName'), ...pick('externalId'), ...(Array.isArray(doc.members) ? { members: doc.members.length } : {}) };
  const emails = Array.isArray(doc.emails) ? doc.emails.map((e) => (e as { value?: unknown }).value).filter((v) => typeof v === 'string') : [];
  return { ...pick('userName'), ...pick('externalId'), ...pick('displayName'), active: doc.active !== false, ...(emails.length ? { emails } : {}) };
}

interface PlannedCreate {
  id: string;
  /** Local users it refers to that are not on the target yet (its manager, being created too). */
  waitsFor: string[];
}

interface Comparison {
  db: Knex;
  connector: Connector;
  type: ResourceType;
  remote: Map<string, Document>;
  /** Remote ids Roster manages (linked or adopted in this run). */
  managed: Set<string>;
  /** Objects to bring up to date through the per-object sync. */
  work: string[];
  /** Users to create in batches. */
  plainCreates: PlannedCreate[];
  /** Every object planned as a create (of this type). */
  creates: string[];
  report: FullSyncReport;
  mode: Mode;
  journal: PushJournal;
}

async function compareType(c: Comparison): Promise<void> {
  const { db, connector, type, remote, managed, work, report, mode, journal } = c;
  const apply = mode === 'apply';
  const table = type === 'User' ? 'users' : 'groups';
  const key = type === 'User' ? 'users' : 'groups';
  const nameOf = (doc: Document) => String(type === 'User' ? doc.userName : doc.displayName);
  // A dry run journals the exact request the applying run would send for what it found here.
  const wouldSend = (id: string, name: string, method: string, path: string, body: unknown) =>
    journal.push({ resourceType: type, resourceId: id, resourceName: name, method, path, status: null, latencyMs: 0, outcome: 'dry-run', body });
  const wouldPatch = (id: string, desired: Document, remoteDoc: Document) => {
    const operations = attributeOperations(managedPart(desired, remoteDoc), desired);
    if (operations.length > 0) wouldSend(id, nameOf(desired), 'PATCH', `${ENDPOINT[type]}/${encodeURIComponent(String(remoteDoc.id))}`, patchBody(operations));
  };
  // Indexes of the remote objects for adoption.
  const byExternalId = new Map<string, Document>();
  const byMatch = new Map<string, Document>();
  const matchOn = type === 'User' ? connector.config.matchOn : 'displayName';
  for (const doc of remote.values()) {
    if (typeof doc.externalId === 'string') byExternalId.set(doc.externalId.toLowerCase(), doc);
    const value = matchOn === 'none' ? undefined : doc[matchOn];
    if (typeof value === 'string') byMatch.set(value.toLowerCase(), doc);
  }
  const links = new Map<string, LinkRow>();
  for (const row of (await db('sync_links').select('resource_id', 'remote_id', 'state').where({ connector: connector.name, resource_type: type })) as LinkRow[]) {
    links.set(row.resource_id, row);
    if (row.remote_id) managed.add(row.remote_id);
  }

  const scope = connector.scopeSql(type);
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = (await db.raw(`SELECT r.id::text AS id, r.resource, r.version FROM ${table} r WHERE r.id > ? AND (${scope.sql}) ORDER BY r.id LIMIT ${PAGE}`, [
      after,
      ...scope.bindings,
    ])) as { rows: Array<{ id: string; resource: Document; version: number }> };
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    report.inScope[key] += rows.length;
    const mapped = rows.map((row) => {
      const doc = type === 'User' ? connector.profile.mapUser(row.resource, row.id) : connector.profile.mapGroup(row.resource, row.id);
      if (type === 'User') doc.active ??= true;
      return doc;
    });
    // References in the target's ids, as the per-object sync sends them: one lookup per page.
    const resolutions = await resolveReferences(db, connector, mapped.flatMap(findReferences));
    for (const [index, row] of rows.entries()) {
      const { document: desired, referencedIds, heldBack } = translateReferences(mapped[index]!, resolutions, connector.config.baseUrl);
      const link = links.get(row.id);
      const linkedRemote = link?.remote_id ? remote.get(link.remote_id) : undefined;
      if (link?.remote_id && linkedRemote) {
        const drifted = driftedAttributes(desired, linkedRemote);
        if (drifted.length > 0) {
          const differences = drifted.map((attribute) => ({ attribute, remote: linkedRemote[attribute] ?? null, desired: desired[attribute] }));
          report.drift.push({ type, id: row.id, name: nameOf(desired), kind: 'attributes', attributes: drifted, remoteId: link.remote_id, differences });
          if (apply) {
            const state = linkedRemote.active === false ? 'disabled' : 'active';
            await saveLink(db, connector.name, type, row.id, { remoteId: link.remote_id, state, acknowledged: managedPart(desired, linkedRemote), version: row.version, referencedIds });
          }
          if (mode === 'dry-run') wouldPatch(row.id, desired, linkedRemote);
          else work.push(row.id);
        }
        if (type === 'Group' && connector.profile.membersReadable) {
          const membersDrift = await compareMembers(db, connector, row.id, linkedRemote, apply);
          if (membersDrift) {
            report.drift.push({ type, id: row.id, name: nameOf(desired), kind: 'members', remoteId: link.remote_id, ...membersDrift });
            if (!drifted.length || mode === 'dry-run') work.push(row.id);
          }
        }
        continue;
      }
      if (link?.remote_id && !linkedRemote) {
        report.drift.push({ type, id: row.id, name: nameOf(desired), kind: 'missing-remotely' });
        if (apply) {
          await db('sync_links').where({ connector: connector.name, resource_type: type, resource_id: row.id }).delete();
          if (type === 'Group') await db('sync_members').where({ connector: connector.name, group_id: row.id }).delete();
        }
        report.toCreate[key]++;
        c.creates.push(row.id);
        if (mode === 'dry-run') wouldSend(row.id, nameOf(desired), 'POST', ENDPOINT[type], desired);
        else work.push(row.id);
        continue;
      }
      // Not linked (or a create was in flight): adopt what the target already has, if anything matches.
      const byId = byExternalId.get(row.id);
      const match = byId ?? (() => {
        const value = matchOn === 'none' ? undefined : desired[matchOn];
        return typeof value === 'string' ? byMatch.get(value.toLowerCase()) : undefined;
      })();
      if (match && typeof match.id === 'string' && !managed.has(match.id)) {
        managed.add(match.id);
        report.adopted[key]++;
        const matchedOn = byId ? 'externalId' : matchOn;
        if (report.adoptions.length < ADOPTIONS_LISTED) {
          report.adoptions.push({ type, id: row.id, name: nameOf(desired), remoteId: match.id, matchedOn, overwrites: overwrittenValues(desired, match) });
        }
        if (apply) {
          // Only a run that takes the account over says so in the journal (decision 0209).
          await linkAdopted(db, connector, journal, { type, id: row.id, name: nameOf(desired), version: row.version, remote: match, desired, matchedOn, referencedIds });
          if (type === 'Group' && connector.profile.membersReadable) await compareMembers(db, connector, row.id, match, true);
        }
        if (mode === 'dry-run') wouldPatch(row.id, desired, match);
        else work.push(row.id);
        continue;
      }
      report.toCreate[key]++;
      c.creates.push(row.id);
      if (type === 'User') c.plainCreates.push({ id: row.id, waitsFor: heldBack.filter((r) => r.reason === 'not-on-target-yet').map((r) => r.id) });
      else work.push(row.id);
    }
    // A dry run's requests (and an applying run's adoptions) go to the journal page by page.
    if (journal.pending >= 500) await journal.flush();
  }

  // Linked objects no longer in scope (or deleted locally): deprovision.
  const { rows: leavers } = (await db.raw(
    `SELECT l.resource_id::text AS id FROM sync_links l
      WHERE l.connector = ? AND l.resource_type = ? AND l.state <> 'disabled'
        AND NOT EXISTS (SELECT 1 FROM ${table} r WHERE r.id = l.resource_id AND (${scope.sql}))`,
    [connector.name, type, ...scope.bindings],
  )) as { rows: Array<{ id: string }> };
  report.toDeprovision[key] += leavers.length;
  for (const leaver of leavers) work.push(leaver.id);
}

/**
 * The planned creates in waves: each user after the users it refers to that are being created as
 * well (its manager), so its references resolve when it is sent. A cycle (two people managing each
 * other) goes in the last wave; their references follow once both exist (the queue re-syncs them).
 */
export function managersFirst(creates: readonly PlannedCreate[]): string[][] {
  const pending = new Map(creates.map((c) => [c.id, c.waitsFor]));
  const waves: string[][] = [];
  while (pending.size > 0) {
    const wave = [...pending].filter(([id, waitsFor]) => !waitsFor.some((other) => other !== id && pending.has(other))).map(([id]) => id);
    if (wave.length === 0) {
      waves.push([...pending.keys()]);
      break;
    }
    for (const id of wave) pending.delete(id);
    waves.push(wave);
  }
  return waves;
}

/** Planned creates that hit 409 and adopted the existing account instead count as adoptions. */
async function countAdoptedCreates(db: Knex, connector: string, creates: Record<ResourceType, string[]>, report: FullSyncReport): Promise<void> {
  for (const type of ['User', 'Group'] as const) {
    if (creates[type].length === 0) continue;
    const { rows } = (await db.raw(
      `SELECT count(*)::int AS n FROM sync_links WHERE connector = ? AND resource_type = ? AND resource_id = ANY(?::uuid[]) AND adopted`,
      [connector, type, creates[type]],
    )) as { rows: Array<{ n: number }> };
    const key = type === 'User' ? 'users' : 'groups';
    report.toCreate[key] -= rows[0]!.n;
    report.adopted[key] += rows[0]!.n;
  }
}

/** Compares a group's remote members with the acknowledged ones; on apply, trusts the target. */
async function compareMembers(db: Knex, connector: Connector, groupId: string, remoteGroup: Document, apply: boolean): Promise<{ membersMissing: number; membersExtra: number } | undefined> {
  const remoteMembers = new Set(
    (Array.isArray(remoteGroup.members) ? remoteGroup.members : []).map((m) => String((m as { value?: unknown }).value)).filter((v) => v !== 'undefined'),
  );
  const { rows } = (await db.raw(
    `SELECT l.resource_id::text AS member_id, l.resource_type AS member_type, l.remote_id
       FROM sync_links l WHERE l.connector = ? AND l.remote_id = ANY(?::text[])`,
    [connector.name, [...remoteMembers]],
  )) as { rows: Array<{ member_id: string; member_type: ResourceType; remote_id: string }> };
  const { rows: acknowledged } = (await db.raw(`SELECT remote_id FROM sync_members WHERE connector = ? AND group_id = ?`, [connector.name, groupId])) as {
    rows: Array<{ remote_id: string }>;
  };
  const ackSet = new Set(acknowledged.map((r) => r.remote_id));
  const membersMissing = [...ackSet].filter((id) => !remoteMembers.has(id)).length;
  const membersExtra = [...remoteMembers].filter((id) => !ackSet.has(id)).length;
  if (membersMissing === 0 && membersExtra === 0) return undefined;
  if (apply) {
    const known: MemberDelta[] = rows.map((r) => ({ memberId: r.member_id, memberType: r.member_type, remoteId: r.remote_id }));
    await replaceAcknowledgedMembers(db, connector.name, groupId, known);
    // Remote members Roster does not know (no link) cannot be removed by a local id; they are
    // reported as drift and left alone.
  }
  return { membersMissing, membersExtra };
}

/** Syncs every listed resource with the connector's concurrency; results in input order. */
async function runAll(db: Knex, connector: Connector, type: ResourceType, ids: readonly string[], requestId: string, onDone: (done: number) => void): Promise<SyncResult[]> {
  const results: SyncResult[] = new Array(ids.length);
  let next = 0;
  let done = 0;
  const journal = new PushJournal(db, connector.name, requestId);
  let flushing: Promise<void> = Promise.resolve();
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= ids.length) return;
      const id = ids[index]!;
      let result: SyncResult;
      for (let waits = 0; ; waits++) {
        result = await syncOne({ db, connector, type, id, attempt: 0, requestId, journal });
        // Busy (a worker has it) is brief; anything else is left to the queue.
        if (result.kind !== 'wait' || result.reason !== 'busy' || waits > 50) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (result.kind === 'retry' || result.kind === 'wait') {
        await enqueueSyncJobs(db, [{ connector: connector.name, type, id, runAt: result.kind === 'wait' ? result.until : new Date(Date.now() + result.delayMs) }]);
      }
      results[index] = result;
      done++;
      if (journal.pending >= 500) flushing = flushing.then(() => journal.flush());
      onDone(done);
    }
  };
  await Promise.all(Array.from({ length: connector.config.rateLimit.concurrency }, worker));
  await flushing;
  await journal.flush();
  return results;
}
