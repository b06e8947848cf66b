/**
 * A real headless Chromium for console journeys: Debian's `chromium` package driven by
 * playwright-core, with a new empty profile per run, and axe-core run inside the page (the
 * console's strict CSP stays on: axe is evaluated through the DevTools protocol, not injected
 * as an inline script). Tests skip, saying why, only when /usr/bin/chromium is missing.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve('test-artifacts');

/**
 * false when Chromium is there; otherwise the reason the browser tests are skipped. In CI (which
 * installs it, .ci/run) they are never skipped: a missing browser fails them there.
 */
export const browserSkip: false | string = existsSync(CHROMIUM) || process.env.CI === 'true'
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the console browser journeys`;

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations the browser reported (must stay empty). */
  cspViolations: string[];
  screenshot(name: string): Promise<string>;
  /** axe-core's serious and critical violations on the current page. */
  accessibilityProblems(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'roster-chromium-'));
  await mkdir(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on('dialog', (dialog) => void dialog.accept());
  const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return {
    context,
    page,
    cspViolations,
    async screenshot(name) {
      const file = path.join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async accessibilityProblems() {
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
        const result = await axe.run(globalThis.document, { resultTypes: ['violations'] });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3) }));
      });
      return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${page.url()}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.join(', ')}`);
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Goes through the test provider's login page (test/support/oidc-provider.ts) as `login`; ends back in the console. */
export async function signInThroughProvider(browser: TestBrowser, rosterUrl: string, issuer: string, login: string): Promise<void> {
  const { page } = browser;
  await browser.context.clearCookies();
  await page.goto(`${rosterUrl}/console`);
  if (!/\/console\/sign-in/.test(page.url())) throw new Error(`expected the sign-in page, got ${page.url()}`);
  await page.getByRole('link', { name: 'Sign in with your company account' }).click();
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((url) => url.href.startsWith(rosterUrl));
}
