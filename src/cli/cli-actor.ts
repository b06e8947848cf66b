/** Who runs a CLI command, for the journal: --as NAME, else $USER, else the operating-system user. */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Actor, JournalSource } from '../journal/entry.js';

export function cliActor(as: string | undefined, source: JournalSource = 'cli'): Actor {
  let name = as ?? process.env.USER;
  if (!name) {
    try {
      name = os.userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return { name: `cli:${name}`, source, requestId: `cli-${randomUUID()}` };
}
