/**
 * Heads kept outside the database that `journal verify` checks the chain against (decision 0422):
 * each must still be on the chain (the entry at its position has its hash). Given on the command
 * line as `SEQ:HASH` (taken as is: the operator copied it from a trusted place), or read from a
 * sink (head-sinks.ts), whose heads must carry a valid signature by a journal key this process has.
 */
import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { headSignatureValid, type PublishedHead } from './head.js';
import type { HeadSink } from '../config/head-sink.js';
import { describeSink, readHeads } from './head-sinks.js';
import { keyById } from './key.js';

export interface ExpectedHead {
  seq: number;
  hash: string;
  /** First sealed position this head vouches for (every later entry must be sealed). */
  sealedFrom: number | null;
  /** Where it came from, for messages: "the command line", "a head published at …". */
  origin: string;
}

export type ExpectedHeadSource = { kind: 'value'; seq: number; hash: string } | { kind: 'sink'; sink: HeadSink };

/** `SEQ:HASH`; undefined when the text is not that. */
export function parseHeadValue(text: string): { seq: number; hash: string } | undefined {
  const match = /^(\d+):([0-9a-f]{64})$/i.exec(text.trim());
  return match ? { seq: Number(match[1]), hash: match[2]!.toLowerCase() } : undefined;
}

/** The heads to check against, or the problem (an unsigned or forged head in the sink, an unreadable sink). */
export async function loadExpectedHeads(
  db: Knex,
  source: ExpectedHeadSource,
  keys: { keySecret: string | undefined; secrets: SecretBox | undefined },
): Promise<{ heads: ExpectedHead[] } | { problem: string }> {
  if (source.kind === 'value') return { heads: [{ seq: source.seq, hash: source.hash, sealedFrom: null, origin: 'the head given on the command line' }] };
  let read: { heads: PublishedHead[]; unreadable: number };
  try {
    read = await readHeads(source.sink);
  } catch (error) {
    return { problem: `the head sink ${describeSink(source.sink)} cannot be read: ${(error as Error).message}` };
  }
  if (read.unreadable > 0) return { problem: `the head sink ${describeSink(source.sink)} holds ${read.unreadable} line(s) that are not journal heads: it was altered` };
  if (read.heads.length === 0) return { problem: `the head sink ${describeSink(source.sink)} holds no journal heads yet` };
  const heads: ExpectedHead[] = [];
  for (const head of read.heads) {
    const key = await keyById(db, head.keyId, keys.keySecret, keys.secrets);
    if (!key) return { problem: `the head published at ${head.publishedAt} is signed with key ${head.keyId}, which this process does not have: set ROSTER_JOURNAL_KEY to the key in use then` };
    if (!headSignatureValid(head, key)) return { problem: `the head published at ${head.publishedAt} (position ${head.seq}) has an invalid signature: the sink was altered` };
    heads.push({ seq: head.seq, hash: head.hash, sealedFrom: head.sealedFrom, origin: `the head published at ${head.publishedAt}` });
  }
  return { heads };
}
