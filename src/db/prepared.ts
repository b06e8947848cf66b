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
import type { Knex } from 'knex';
import type pg from 'pg';

export interface PreparedStatement {
  /** Unique per SQL text: PostgreSQL keeps one plan per name and connection. */
  name: string;
  text: string;
}

export async function queryPrepared<Row extends object>(db: Knex, statement: PreparedStatement, values: readonly unknown[]): Promise<Row[]> {
  const connection = (await db.client.acquireConnection()) as pg.Client;
  try {
    const result = await connection.query<Row>({ name: statement.name, text: statement.text, values: values as unknown[] });
    return result.rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}
