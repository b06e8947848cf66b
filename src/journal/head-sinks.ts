/**
 * Where signed journal heads go, outside PostgreSQL (ROSTER_JOURNAL_HEAD_SINK), and where
 * `journal verify --expect-head` reads them back:
 * - a file path (or `file:` URL): one JSON line appended per head (O_APPEND, fsync'd). If the
 *   path is a directory, the file `roster-journal-heads.jsonl` in it. Point it at storage the
 *   database's administrators cannot rewrite (another host's mount, a WORM bucket's sync folder);
 * - an `http://` or `https://` URL: each head is POSTed as JSON (the receiver keeps them; a log
 *   shipper, a ticket system's webhook, a small service). Reading back GETs the same URL and
 *   accepts one head, an array of heads, or JSON lines.
 */
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HeadSink } from '../config/head-sink.js';
import { parseHead, type PublishedHead } from './head.js';

export const HEADS_FILE_IN_DIRECTORY = 'roster-journal-heads.jsonl';

export const describeSink = (sink: HeadSink) => (sink.kind === 'file' ? sink.path : sink.url.replace(/\/\/[^@/]*@/, '//***@'));

async function headsFile(sinkPath: string): Promise<string> {
  const info = await stat(sinkPath).catch(() => undefined);
  return info?.isDirectory() ? path.join(sinkPath, HEADS_FILE_IN_DIRECTORY) : sinkPath;
}

const authorizationHeader = (sink: HeadSink & { kind: 'http' }): Record<string, string> => (sink.authorization ? { authorization: sink.authorization } : {});

export async function publishHead(sink: HeadSink, head: PublishedHead): Promise<void> {
  if (sink.kind === 'file') {
    const handle = await open(await headsFile(sink.path), 'a', 0o640);
    try {
      await handle.appendFile(JSON.stringify(head) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    return;
  }
  const response = await fetch(sink.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorizationHeader(sink) },
    body: JSON.stringify(head),
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`the head sink answered ${response.status}`);
}

/** Every head a sink holds, oldest first as stored; lines that are not heads are reported, not dropped silently. */
export async function readHeads(sink: HeadSink): Promise<{ heads: PublishedHead[]; unreadable: number }> {
  let text: string;
  if (sink.kind === 'file') {
    text = await readFile(await headsFile(sink.path), 'utf8');
  } else {
    const response = await fetch(sink.url, { headers: { accept: 'application/json', ...authorizationHeader(sink) }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`the head sink answered ${response.status} to GET`);
    text = await response.text();
  }
  const values: unknown[] = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) values.push(...(JSON.parse(trimmed) as unknown[]));
  else {
    for (const line of trimmed.split('\n').filter((l) => l.trim())) {
      try {
        values.push(JSON.parse(line));
      } catch {
        values.push(undefined);
      }
    }
  }
  const heads = values.map(parseHead);
  return { heads: heads.filter((h): h is PublishedHead => h !== undefined), unreadable: heads.filter((h) => h === undefined).length };
}
