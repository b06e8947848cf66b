import type { Response } from 'express';
import { JsonText } from '../scim/render.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/**
 * JSON for a response body. A body or list item that is already JsonText (a resource rendered
 * from its document text) goes in as is; everything else through JSON.stringify.
 */
export function serializeScimBody(body: unknown): string {
  if (body instanceof JsonText) return body.text;
  const resources = (body as { Resources?: unknown } | null)?.Resources;
  if (!Array.isArray(resources) || !resources.some((item) => item instanceof JsonText)) return JSON.stringify(body);
  const { Resources: _resources, ...envelope } = body as Record<string, unknown>;
  const items = resources.map((item) => (item instanceof JsonText ? item.text : JSON.stringify(item)));
  const head = JSON.stringify(envelope);
  return `${head.slice(0, -1)}${head === '{}' ? '' : ','}"Resources":[${items.join(',')}]}`;
}

export function sendScim(res: Response, status: number, body: unknown): void {
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.end(serializeScimBody(body));
}
