/**
 * The ceiling: a bare Express 5 app that answers each benchmarked request with the response Roster
 * gave to one real request of that kind (status, content type, ETag/Location, body), captured in
 * the same run. No auth, no database. Request bodies are parsed with express.json, as Roster does,
 * so write requests pay for reading their body here too.
 *
 *   node --import tsx bench/bare-express.ts <responses.json>   (PORT, HOST from the environment)
 *
 * Each captured response is served at `/<key><route>`, e.g. `/get-user/scim/v2/Users/:id`.
 */
import fs from 'node:fs';
import express, { type RequestHandler } from 'express';
import { barePathPrefix, type CapturedResponse } from './requests.js';

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: bare-express.ts <responses.json>');
  const responses = JSON.parse(fs.readFileSync(file, 'utf8')) as CapturedResponse[];
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  const json = express.json({ type: ['application/json', 'application/scim+json'], strict: false });

  app.get('/readyz', (_req, res) => {
    res.json({ status: 'ready' });
  });
  for (const captured of responses) {
    const answer: RequestHandler = (_req, res) => {
      res.status(captured.status);
      for (const [name, value] of Object.entries(captured.headers)) res.setHeader(name, value);
      res.end(captured.body);
    };
    const route = `${barePathPrefix(captured.key)}${captured.route}`;
    if (captured.method === 'GET') app.get(route, answer);
    else if (captured.method === 'POST') app.post(route, json, answer);
    else app.patch(route, json, answer);
  }

  const port = Number(process.env.PORT ?? 0);
  const server = app.listen(port, process.env.HOST ?? '127.0.0.1');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
