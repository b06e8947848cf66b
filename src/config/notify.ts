/**
 * Where approvers of access requests are told (docs/governance.md#notifications): email through an
 * SMTP server and a JSON webhook, each optional, and how long a request may wait for its decisions.
 * Read from the environment with the rest of the configuration in env.ts.
 */
export interface NotifySettings {
  /** smtp:// or smtps:// URL (credentials in it); undefined: no email. */
  smtpUrl: string | undefined;
  /** The From address of the emails. */
  emailFrom: string;
  /** undefined: no webhook. */
  webhookUrl: string | undefined;
  /** When set, each webhook body is signed: X-Roster-Signature: sha256=<hex HMAC of the body>. */
  webhookSecret: string | undefined;
  /** Links in notifications point at the console here (ROSTER_PUBLIC_URL). */
  publicUrl: string | undefined;
}

export interface RequestSettings {
  /** How long an access request may wait for its decisions before it expires. */
  undecidedMs: number;
  notify: NotifySettings;
}

export const NO_NOTIFICATIONS: NotifySettings = { smtpUrl: undefined, emailFrom: 'roster@localhost', webhookUrl: undefined, webhookSecret: undefined, publicUrl: undefined };

export const DEFAULT_REQUEST_SETTINGS: RequestSettings = { undecidedMs: 14 * 86_400_000, notify: NO_NOTIFICATIONS };
