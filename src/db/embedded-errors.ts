/**
 * The embedded PostgreSQL could not be prepared or started. The message is one paragraph for the
 * operator: what failed (the folder or file, and as which user), and what to do next. The CLI
 * prints it and exits 2, like any other setup mistake; never a stack trace.
 */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}
