/**
 * A browser-less console client for HTTP-level tests: keeps cookies, follows nothing by itself
 * (redirects are asserted), and reads the hidden form tokens from the real pages.
 */
export interface ConsoleResponse {
  status: number;
  headers: Headers;
  text: string;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    this.remember(response.headers);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** A multipart/form-data post (a file upload), as a browser sends it. */
  async upload(path: string, fields: Record<string, string>, files: Record<string, { name: string; text: string }>): Promise<ConsoleResponse> {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    for (const [k, f] of Object.entries(files)) body.append(k, new Blob([f.text], { type: 'text/csv' }), f.name);
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(`${this.baseUrl}${path}`, { method: 'POST', redirect: 'manual', headers: cookie ? { cookie } : {}, body });
    this.remember(response.headers);
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  get(path: string): Promise<ConsoleResponse> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string>): Promise<ConsoleResponse> {
    return this.request('POST', path, form);
  }

  /** Signs in through the real token form; returns the response to the form post. */
  async signInWithToken(token: string): Promise<ConsoleResponse> {
    const page = await this.get('/console/sign-in');
    return this.post('/console/sign-in/token', { _sign_in: hiddenField(page.text, '_sign_in'), next: '/console', token });
  }

  /** The session's CSRF token, read from the sign-out form every signed-in page has. */
  async csrfToken(): Promise<string> {
    return hiddenField((await this.get('/console')).text, '_csrf');
  }
}

export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no hidden field ${name} in the page`);
  return match[1]!;
}
