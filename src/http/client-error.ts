/**
 * Requests that are not valid HTTP (a raw non-ASCII byte in the URL, a malformed header, headers
 * over the size limit) fail in Node's parser before Express sees them. Node's own answer is a bare
 * `400` with no body; this one is a SCIM error that says what to fix, and the connection closes.
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SCIM_ERROR_SCHEMA } from '../scim/errors.js';
import { SCIM_CONTENT_TYPE } from './scim-response.js';

function answerFor(code: string | undefined): { status: number; scimType?: string; detail: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, detail: 'The request headers are larger than this server accepts' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, detail: 'The request was not received in time' };
  return {
    status: 400,
    scimType: 'invalidSyntax',
    detail: 'The request is not valid HTTP/1.1; percent-encode non-ASCII characters in the URL (for example in a filter) and check the headers',
  };
}

export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, scimType, detail } = answerFor(error.code);
    const body = JSON.stringify({ schemas: [SCIM_ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
