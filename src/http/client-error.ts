/**
 * Requests that are not valid HTTP (a raw non-ASCII byte in the URL, a malformed header, headers
 * over the size limit) fail in Node's parser before Express sees them. Node's own answer is a bare
 * `400` with no body; this one is a SCIM error that says what to fix, and the connection closes.
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { headersTooLarge, invalidSyntax, requestTimeout, type ScimError } from '../scim/errors.js';
import { SCIM_CONTENT_TYPE } from './scim-response.js';

function answerFor(code: string | undefined): ScimError {
  if (code === 'HPE_HEADER_OVERFLOW') return headersTooLarge('The request headers are larger than this server accepts');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return requestTimeout('The request was not received in time');
  return invalidSyntax('The request is not valid HTTP/1.1; percent-encode non-ASCII characters in the URL (for example in a filter) and check the headers');
}

export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = answerFor(error.code);
    const { status } = answer;
    // The same wire format as every other SCIM error (ScimError.toJSON), written by hand because
    // Express never sees this request.
    const body = JSON.stringify(answer.toJSON());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
