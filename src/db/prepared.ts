/**
 * Named prepared statements on knex's own pool, for the hottest reads (GET by id, pages).
 * Why not knex: knex compiles its query builder and renumbers bindings on every call, and pg then
 * sends Parse for an unnamed statement, so PostgreSQL parses and plans it again each time. With a
 * name, pg parses once per connection and afterwards sends only Bind/Execute, and PostgreSQL
 * reuses the plan. Measured on GET /Users/{id}: see docs/decisions/0010-prepared-hot-reads.md.
 * The connection comes from (and goes back to) knex's pool, so limits and the session set-up in
 * createKnex (time zone) apply unchanged. Given a transaction, the statement runs on the
 * transaction's own connection and sees its writes: a transaction's client hands out that
 * connection and its release does nothing (knex's makeTxClient), so no separate variant is needed
 * (test/database.test.ts checks it).
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';

export interface PreparedStatement {
  /** Unique per SQL text: PostgreSQL keeps one plan per name and connection. */
  name: string;
  text: string;
}

export async function queryPrepared<Row extends object>(db: Knex, statement: PreparedStatement, values: readonly unknown[]): Promise<Row[]> {
  const connection = (await db.client.acquireConnection()) as pg.Client;
  // knex's 'query' event, as its own queries raise it: its listeners (debug logs, tests that
  // check which statements a request makes) see these statements too.
  (db.client as unknown as NodeJS.EventEmitter).emit('query', { method: 'raw', sql: statement.text, bindings: values, name: statement.name });
  try {
    const result = await connection.query<Row>({ name: statement.name, text: statement.text, values: values as unknown[] });
    return result.rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}

/**
 * Distinct SQL shapes (texts with placeholders) this process runs as named statements, at most.
 * List queries are built from a client's filter, so their shapes are unbounded; each name holds a
 * plan on every pooled connection. The first shapes seen (in practice the few filters an identity
 * provider sends again and again, e.g. `userName eq "…"`) are prepared; any beyond the cap run
 * unnamed, planned each time as before.
 */
const MAX_NAMED_SHAPES = 256;
const namedShapes = new Set<string>();

/**
 * Runs a knex-style SQL text (`?` placeholders) as a named prepared statement while the shape
 * budget allows, else unnamed. The name is a hash of the native SQL text, so equal shapes share it.
 */
export async function queryByShape<Row extends object>(db: Knex, sql: string, bindings: readonly unknown[]): Promise<Row[]> {
  const native = db.raw(sql, bindings as Knex.RawBinding[]).toSQL().toNative();
  const name = `roster_q_${createHash('sha256').update(native.sql).digest('hex').slice(0, 24)}`;
  if (!namedShapes.has(name)) {
    if (namedShapes.size >= MAX_NAMED_SHAPES) {
      const { rows } = (await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: Row[] };
      return rows;
    }
    namedShapes.add(name);
  }
  return queryPrepared<Row>(db, { name, text: native.sql }, native.bindings);
}
