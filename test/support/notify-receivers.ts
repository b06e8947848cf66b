/**
 * The far ends of Roster's notifications in tests: a real SMTP server (smtp-server) and a real
 * HTTP webhook receiver, both on loopback, keeping what they received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  text: string;
}

export interface ReceivedHook {
  body: string;
  signature: string | undefined;
}

export interface SmtpReceiver {
  url: string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

export interface WebhookReceiver {
  url: string;
  hooks: ReceivedHook[];
  close(): Promise<void>;
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), text: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}

/** `statusFor` answers each body (default 204). */
export async function startWebhookReceiver(statusFor: (body: string) => number = () => 204): Promise<WebhookReceiver> {
  const hooks: ReceivedHook[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hooks.push({ body, signature: req.headers['x-roster-signature'] as string | undefined });
      res.statusCode = statusFor(body);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, hooks, close: () => new Promise<void>((resolve) => receiver.close(() => resolve())) };
}
