/** The console's refusals, rendered as HTML pages by the console's error handler (router.ts). */
export class ConsoleRefusal extends Error {
  override name = 'ConsoleRefusal';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 502 | 503,
    message: string,
  ) {
    super(message);
  }
}
