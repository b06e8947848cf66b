/**
 * The ceiling: a bare Express 5 app that answers each benchmarked request with the response Roster
 * gave to one real request of that kind (status, content type, ETag/Location, body), captured in
 * the same run. No auth, no database. Request bodies are parsed with express.json, as Roster does,
 * so write requests pay for reading their body here too.
 *
 *   node --import tsx bench/bare-express.ts <responses.json>   (PORT, HOST from the environment)
 *
 * Each captured response is served at `/<key><route>`, e.g. `/get-user/scim/v2/Users/:id`.
 *
 * With BARE_DATABASE_URL set, a second reference is served at `/get-user-db/scim/v2/Users/:id`:
 * the same bare route plus the least a database-backed GET must do, one prepared SELECT by id on
 * a pg pool, its document serialised with id. It shows how much of the gap to the ceiling is the
 * database round trip itself rather than Roster's own work.
 */
import fs from 'node:fs';
import express, { type RequestHandler } from 'express';
import pg from 'pg';
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

  const databaseUrl = process.env.BARE_DATABASE_URL;
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    app.get(`${barePathPrefix('get-user-db')}/scim/v2/Users/:id`, async (req, res) => {
      const { rows } = await pool.query<{ id: string; resource: Record<string, unknown> }>({
        name: 'bare_get_user',
        text: 'SELECT id, resource FROM users WHERE id = $1',
        values: [req.params.id],
      });
      const row = rows[0];
      if (!row) return void res.status(404).end();
      res.setHeader('Content-Type', 'application/scim+json; charset=utf-8');
      res.end(JSON.stringify({ id: row.id, ...row.resource }));
    });
  }

  const port = Number(process.env.PORT ?? 0);
  const server = app.listen(port, process.env.HOST ?? '127.0.0.1');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
