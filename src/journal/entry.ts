/** The shape of one journal entry as the write path records it. */
export type JournalSource = 'scim' | 'bulk' | 'cli' | 'console' | 'import' | 'policy' | 'sync' | 'auth' | 'system' | 'ops';

export interface Actor {
  /** Token or operator name. */
  name: string;
  source: JournalSource;
  requestId: string;
}

export interface JournalEntryInput {
  action: string;
  resourceType?: 'User' | 'Group' | undefined;
  resourceId?: string | undefined;
  before?: unknown;
  after?: unknown;
  /** What changed: attribute paths with before/after, or membership deltas. */
  changes?: unknown;
  reason?: unknown;
  /**
   * The resource's name (userName, displayName), when the writer has it and the entry carries no
   * document to read it from; otherwise the append reads it from the resource's row.
   */
  resourceName?: string | undefined;
  /** The request this entry belongs to, when one append carries entries of several (sync's appender). */
  requestId?: string | undefined;
}
