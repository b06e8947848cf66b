/**
 * The two ways Roster tells people something (docs/governance.md#notifications): an email through
 * the SMTP server of ROSTER_NOTIFY_SMTP_URL (nodemailer) and a JSON POST to
 * ROSTER_NOTIFY_WEBHOOK_URL, signed with an HMAC when ROSTER_NOTIFY_WEBHOOK_SECRET is set. Access
 * requests tell approvers through them, access reviews remind reviewers. Neither throws: each
 * returns its outcome, which the caller journals; a failure is never retried.
 */
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { NotifySettings } from '../config/notify.js';

export const SIGNATURE_HEADER = 'X-Roster-Signature';
const TIMEOUT_MS = 10_000;

export interface ChannelOutcome {
  channel: 'email' | 'webhook';
  ok: boolean;
  recipients: number;
  error?: string;
}

export const notificationsConfigured = (settings: NotifySettings): boolean => Boolean(settings.smtpUrl || settings.webhookUrl);

/** One email to `recipients` in Bcc, so each sees only their own address. */
export async function sendEmail(settings: NotifySettings, recipients: readonly string[], subject: string, text: string): Promise<ChannelOutcome> {
  if (recipients.length === 0) return { channel: 'email', ok: false, recipients: 0, error: 'nobody to tell has an email address in Roster' };
  const transport = nodemailer.createTransport({ url: settings.smtpUrl!, connectionTimeout: TIMEOUT_MS, greetingTimeout: TIMEOUT_MS, socketTimeout: TIMEOUT_MS });
  try {
    await transport.sendMail({ from: settings.emailFrom, to: settings.emailFrom, bcc: [...recipients], subject, text });
    return { channel: 'email', ok: true, recipients: recipients.length };
  } catch (error) {
    return { channel: 'email', ok: false, recipients: recipients.length, error: (error as Error).message.slice(0, 300) };
  } finally {
    transport.close();
  }
}

/** The JSON `payload` POSTed to the webhook; `recipients` is how many people it concerns. */
export async function postWebhook(settings: NotifySettings, payload: unknown, recipients: number): Promise<ChannelOutcome> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Roster' };
  if (settings.webhookSecret) headers[SIGNATURE_HEADER] = `sha256=${createHmac('sha256', settings.webhookSecret).update(body).digest('hex')}`;
  try {
    const response = await fetch(settings.webhookUrl!, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
    await response.body?.cancel();
    return response.ok ? { channel: 'webhook', ok: true, recipients } : { channel: 'webhook', ok: false, recipients, error: `the receiver answered ${response.status}` };
  } catch (error) {
    return { channel: 'webhook', ok: false, recipients, error: ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message };
  }
}
