/**
 * ROSTER_JOURNAL_HEAD_SINK: where signed journal heads are published outside PostgreSQL
 * (src/journal/head-sinks.ts writes and reads them; docs/security.md).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `authorization`: the Authorization header sent with every POST and GET (ROSTER_JOURNAL_HEAD_SINK_AUTHORIZATION). */
export type HeadSink = { kind: 'file'; path: string } | { kind: 'http'; url: string; authorization?: string };

/** The sink a setting names; undefined when it names none (the message says why). */
export function parseHeadSink(value: string): HeadSink | string {
  const trimmed = value.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return { kind: 'http', url: new URL(trimmed).toString() };
    } catch {
      return `"${trimmed}" is not a valid URL`;
    }
  }
  if (trimmed.startsWith('file:')) {
    try {
      return { kind: 'file', path: trimmed.startsWith('file://') ? fileURLToPath(trimmed) : path.resolve(trimmed.slice(5)) };
    } catch {
      return `"${trimmed}" is not a valid file URL`;
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return `"${trimmed}": only file paths, file: URLs and http(s):// URLs are supported`;
  return trimmed ? { kind: 'file', path: path.resolve(trimmed) } : 'is empty';
}

