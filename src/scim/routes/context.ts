import type { Request, RequestHandler } from 'express';
import type { Knex } from 'knex';
import type { Actor, JournalSource } from '../../journal/entry.js';
import { principalOf } from '../../http/auth.js';
import type { WritePath } from '../../write/write-path.js';
import type { PagingLimits } from '../list-query.js';

export interface ScimDependencies {
  db: Knex;
  writePath: WritePath;
  limits: PagingLimits & { bulkMaxOperations: number; maxBodyBytes: number };
  publicUrl?: string | undefined;
  /** Parses and checks a JSON body (src/http/input-rules.ts); routes that take a body mount it. */
  readBody: RequestHandler;
}

export const SCIM_MOUNT = '/scim/v2';

/** The base URL clients use for this server, for `meta.location` and `Location`. */
export function baseUrlOf(req: Request, publicUrl: string | undefined): string {
  return `${publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`}${SCIM_MOUNT}`;
}

export function actorOf(req: Request, source: JournalSource): Actor {
  return { name: principalOf(req).name, source, requestId: String(req.res?.locals.requestId ?? '') };
}
