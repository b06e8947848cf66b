/**
 * The console's plain-text people search: people whose names contain the text (userName,
 * displayName, given and family name, externalId, emails; case-insensitive), through the trigram
 * index on roster_user_search_text (migration 20261207180200), in userName order with a keyset
 * on (lower(userName), id). The count stops at COUNT_LIMIT: "more than 1,000" is the answer a
 * person scanning a list needs, and counting every match of a short text would read every row.
 */
import type { Knex } from 'knex';

export const COUNT_LIMIT = 1000;

export interface PeopleSearchPage {
  rows: Array<{ id: string; resource: Record<string, unknown> }>;
  /** Matches, counted up to COUNT_LIMIT + 1 (more than COUNT_LIMIT: there are more). */
  matches: number;
  /** The keyset of the next page, when there is one. */
  next: { userName: string; id: string } | undefined;
}

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function searchPeople(db: Knex, text: string, options: { after?: { userName: string; id: string } | undefined; limit: number }): Promise<PeopleSearchPage> {
  const pattern = `%${escapeLike(text.trim().toLowerCase())}%`;
  const matching = `roster_user_search_text(u.resource) LIKE ? ESCAPE '\\'`;
  const after = options.after ? ` AND (lower(u.resource->>'userName'), u.id) > (?, ?::uuid)` : '';
  const [page, count] = await Promise.all([
    db.raw(`SELECT u.id, u.resource FROM users u WHERE ${matching}${after} ORDER BY lower(u.resource->>'userName'), u.id LIMIT ?`, [
      pattern,
      ...(options.after ? [options.after.userName, options.after.id] : []),
      options.limit + 1,
    ]) as Promise<{ rows: Array<{ id: string; resource: Record<string, unknown> }> }>,
    db.raw(`SELECT count(*)::int AS n FROM (SELECT 1 FROM users u WHERE ${matching} LIMIT ?) m`, [pattern, COUNT_LIMIT + 1]) as Promise<{ rows: Array<{ n: number }> }>,
  ]);
  const rows = page.rows.slice(0, options.limit);
  const last = rows[rows.length - 1];
  return {
    rows,
    matches: count.rows[0]?.n ?? 0,
    next: page.rows.length > options.limit && last ? { userName: String(last.resource.userName ?? '').toLowerCase(), id: last.id } : undefined,
  };
}
