/**
 * The shape shared by Roster's stored credentials, bearer tokens (`api_tokens`) and OAuth clients
 * (`oauth_clients`): one row per credential, with a name unique among the active ones, its scopes,
 * a secret shown once and stored only as a SHA-256 hash, and when it was created, last used and
 * revoked. A secret has 256 bits of entropy, so a slow password hash adds nothing; SHA-256 keeps
 * the per-request check cheap (decision 0009). Each store says which table it is, how a row reads
 * as a record, and which other column an operator may name a credential by to revoke it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

/** The columns every credential table has. */
export interface CredentialRow {
  id: string;
  name: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** What is shown of a credential: never its secret or its hash. */
export interface CredentialRecord {
  id: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function credentialRecord(row: CredentialRow): CredentialRecord {
  return { id: row.id, name: row.name, scopes: row.scopes, createdAt: row.created_at, lastUsedAt: row.last_used_at, revokedAt: row.revoked_at };
}

/** The stored form of a secret: its SHA-256, hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new secret: the prefix that says what it is, then 32 random bytes (256 bits), base64url. */
export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** An active credential of the same kind already has the name (the CLI shows the message as a usage error). */
export class CredentialNameTakenError extends Error {
  constructor(kind: string, name: string) {
    super(`A ${kind} named "${name}" already exists; revoke it first or choose another name`);
  }
}

export interface CredentialTable<Row extends CredentialRow, Shown> {
  table: string;
  toRecord(row: Row): Shown;
  nameTaken(name: string): CredentialNameTakenError;
  /** Besides its name, the column an operator may name a credential by to revoke it, and which values can be one. */
  revokeBy: { column: string; accepts?: (value: string) => boolean };
}

/** The values a new credential is inserted with; the table fills in the times. */
type NewCredential<Row extends CredentialRow> = Omit<Row, 'id' | 'created_at' | 'last_used_at' | 'revoked_at'>;

export class CredentialStore<Row extends CredentialRow, Shown> {
  constructor(private readonly spec: CredentialTable<Row, Shown>) {}

  /** Inserts a credential; a name an active one already has (unique index, 23505) is refused with nameTaken. */
  async create(db: Knex, values: NewCredential<Row>): Promise<Shown> {
    try {
      const [row] = await db(this.spec.table)
        .insert({ id: randomUUID(), ...values })
        .returning('*');
      return this.spec.toRecord(row as Row);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw this.spec.nameTaken(values.name);
      throw error;
    }
  }

  /** Oldest first; the revoked ones only when asked. */
  async list(db: Knex, includeRevoked: boolean): Promise<Shown[]> {
    const query = db<Row>(this.spec.table).select('*').orderBy('created_at');
    if (!includeRevoked) query.whereNull('revoked_at');
    return ((await query) as Row[]).map((row) => this.spec.toRecord(row));
  }

  /** Revokes the active credential with this name (or revokeBy column); false when there is none. */
  async revoke(db: Knex, nameOrKey: string): Promise<boolean> {
    const { column, accepts } = this.spec.revokeBy;
    const updated = await db(this.spec.table)
      .whereNull('revoked_at')
      .andWhere((q) => {
        q.where('name', nameOrKey);
        if (accepts?.(nameOrKey) ?? true) q.orWhere(column, nameOrKey);
      })
      .update({ revoked_at: db.fn.now() });
    return updated > 0;
  }

  /** The active row that matches (by its hash or its public id), secret hash included: for checks, not for display. */
  async findActiveRow(db: Knex, where: Partial<Row>): Promise<Row | undefined> {
    return (await db(this.spec.table).where(where).whereNull('revoked_at').first()) as Row | undefined;
  }

  async countActive(db: Knex): Promise<number> {
    const [row] = await db(this.spec.table).whereNull('revoked_at').count<{ count: string }[]>('* as count');
    return Number(row?.count ?? 0);
  }

  async touch(db: Knex, id: string): Promise<void> {
    await db(this.spec.table).where({ id }).update({ last_used_at: db.fn.now() });
  }
}
