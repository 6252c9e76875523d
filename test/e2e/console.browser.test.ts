/**
 * The local console in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * `npm start` runs in this process on an ephemeral port; the page sends, lists, opens and
 * replays deliveries, shows a refused one, runs the pattern playground, and never holds a secret.
 * Every wait is on the page's state (Playwright's auto-waiting) with generous timeouts: nothing
 * here races the machine's speed. One browser for the whole file, to bound its time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../local/console/chromium';
import { runLocal, type RunningLocal } from '../../local/start';
import { writeConsoleDemoConfig } from '../../support/console-demo';

/** Long enough for a loaded two-core machine; a wait ends as soon as the page is ready. */
const WAIT = { timeout: 30_000 };

const TOKEN = 'console-test-webhook-token-0123456789abcdef';
const CHAT_SECRET = 'T0CHATSECRET/B0CHATSECRET/chatwebhooksecretpart42';
const TRIGGER_SECRET_PATH = 'triggersecretpathpart9876543210';
/** Markup a delivery may carry: drawn as HTML, it would be an image whose error handler runs. */
const HOSTILE = '<img src=x onerror=document.body.dataset.xss=1>';
const FIXTURES = path.join(__dirname, '../../fixtures/buildkite');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let tmp: string;
let local: RunningLocal;
let browser: Browser;
let page: Page;
let chatStub: Server;
const chatPosts: string[] = [];
/** Every body the page received from the console's API, and the event stream's text. */
const apiBodies: string[] = [];
let streamText = '';
const streamAbort = new AbortController();
const startedAt = Date.now();

beforeAll(async () => {
  // Fails, never skips, without a browser: the message says how to install one.
  browser = await launchChromium();
  tmp = mkdtempSync(path.join(tmpdir(), 'kitebridge-console-'));
  chatStub = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      chatPosts.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => chatStub.listen(0, '127.0.0.1', resolve));
  const chatPort = (chatStub.address() as AddressInfo).port;

  const cdkJson = writeConsoleDemoConfig(tmp, ['build.failed']);
  local = (await runLocal({
    argv: [],
    env: {
      PORT: '0',
      KITEBRIDGE_TOKEN: TOKEN,
      KITEBRIDGE_DATA_DIR: path.join(tmp, 'data'),
      KITEBRIDGE_CHAT_URL: `http://127.0.0.1:${chatPort}/services/${CHAT_SECRET}`,
      KITEBRIDGE_TRIGGER_URL_PAGERDUTY: `http://127.0.0.1:9/v2/pipelines/${TRIGGER_SECRET_PATH}/trigger`,
    },
    cdkJsonPath: cdkJson,
    print: () => undefined,
  })) as RunningLocal;

  // The event stream as any client sees it, for the secret check at the end.
  void fetch(`${local.consoleUrl}api/stream`, { signal: streamAbort.signal })
    .then(async (response) => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        streamText += decoder.decode(chunk, { stream: true });
      }
    })
    .catch(() => undefined);

  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('response', (response) => {
    if (!response.url().includes('/api/') || response.url().endsWith('/api/stream')) return;
    void response
      .text()
      .then((text) => apiBodies.push(text))
      .catch(() => undefined);
  });
  await page.goto(local.consoleUrl as string);
});

afterAll(async () => {
  streamAbort.abort();
  await browser?.close();
  await local?.stop();
  await new Promise<void>((resolve) => (chatStub ? chatStub.close(() => resolve()) : resolve()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  console.log(
    `console browser tests: ${((Date.now() - startedAt) / 1000).toFixed(1)} s, browser launch included`,
  );
});

const row = (id: number) => page.locator(`[data-testid=delivery-row][data-id="${id}"]`);
const detail = (id: number) => page.locator(`[data-testid=delivery-detail][data-id="${id}"]`);

async function sendFromPage(options: { fixture: string; mode: string; wrongSecret?: boolean }) {
  await page.getByRole('tab', { name: 'Send' }).click();
  await page.selectOption('#send-fixture', options.fixture);
  await page.selectOption('#send-mode', options.mode);
  await page.setChecked('#send-wrong', options.wrongSecret ?? false);
  await page.fill('#send-body', '');
  await page.click('#send-go');
}

describe('the local console in a browser', () => {
  it('is served by npm start, whose banner shows its URL, and goes live', async () => {
    expect(local.consoleUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(local.banner).toContain(`Console          ${local.consoleUrl}`);
    await page.locator('#live', { hasText: 'live' }).waitFor(WAIT);
    expect(await page.title()).toBe('kitebridge console');
  });

  it('sends a signed delivery from the page and lists it', async () => {
    await sendFromPage({ fixture: 'buildkite/build.finished', mode: 'signature' });
    await page.locator('#send-result', { hasText: '202' }).waitFor(WAIT);
    await page.getByRole('tab', { name: 'Deliveries' }).click();
    await row(1).filter({ hasText: 'build.finished' }).filter({ hasText: '202' }).waitFor(WAIT);
    expect(await row(1).innerText()).toContain('signature');
  });

  it('opens it: matched rules, the first failing field of the others, rendered alerts, masked headers', async () => {
    await row(1).click();
    const open = detail(1);
    await open.waitFor(WAIT);
    // Every rule on the local bus, with its verdict.
    await open.locator('[data-rule=ChatAlerts][data-matched=true]').waitFor(WAIT);
    await open.locator('[data-rule=Analytics][data-matched=true]').waitFor(WAIT);
    const relay = open.locator('[data-rule=TriggerRelay-pagerduty][data-matched=false]');
    await relay.waitFor(WAIT);
    expect(await relay.innerText()).toMatch(/first failing field (source|detail-type)/);
    // The alert as each service shows it: Slack from its blocks, Teams through adaptivecards.
    const slack = open.locator('[data-testid=chat-alert-slack] .slack .sk-header');
    await slack.waitFor(WAIT);
    expect(await slack.innerText()).toContain('failed');
    const teams = open.locator('[data-testid=chat-alert-teams] .teams .ac-adaptiveCard');
    await teams.waitFor(WAIT);
    expect(await teams.innerText()).toContain('failed');
    await open.locator('[data-testid=analytics-record]').waitFor(WAIT);
    // The signature is masked as logs mask it; the raw body is there.
    const headers = await open.locator('[data-testid=headers]').innerText();
    expect(headers).toMatch(/X-Buildkite-Signature\s+\[redacted\]/);
    expect(await open.innerText()).toContain('"event": "build.finished"');
  });

  it('replays it: a second entry, re-signed, whose alert dedupe holds back', async () => {
    await detail(1).locator('[data-testid=replay]').click();
    await row(2).filter({ hasText: 'replay of #1' }).filter({ hasText: '202' }).waitFor(WAIT);
    await row(2).click();
    const open = detail(2);
    await open.locator('[data-testid=dedupe-note]').waitFor(WAIT);
    await open.locator('[data-testid=chat-duplicate]').first().waitFor(WAIT);
    expect(await open.locator('[data-testid^=chat-alert-]').count()).toBe(0);
    // The chat webhook got the alert once per destination, not again for the replay.
    expect(chatPosts).toHaveLength(2);
  });

  it('shows a refused request with its error', async () => {
    await sendFromPage({ fixture: 'buildkite/job.finished', mode: 'signature', wrongSecret: true });
    await page.locator('#send-result', { hasText: '401' }).waitFor(WAIT);
    await page.getByRole('tab', { name: 'Deliveries' }).click();
    await row(3).filter({ hasText: 'invalid_signature' }).waitFor(WAIT);
    await page.selectOption('#filter-status', 'rejected');
    expect(await page.locator('[data-testid=delivery-row]').count()).toBe(1);
    await page.selectOption('#filter-status', '');
    await row(3).click();
    const error = detail(3).locator('[data-testid=detail-error]');
    await error.waitFor(WAIT);
    expect(await error.innerText()).toContain('The signature does not match');
  });

  it('runs the pattern playground on a valid and on an invalid pattern', async () => {
    await page.getByRole('tab', { name: 'Pattern playground' }).click();
    await page.fill(
      '#pattern',
      JSON.stringify({ 'detail-type': ['build.finished'], detail: { build: { state: ['failed'] } } }),
    );
    await page.click('#pattern-go');
    await page.locator('[data-testid=pattern-summary]', { hasText: '2 of 2' }).waitFor(WAIT);
    expect(await page.locator('#pattern-snippet').innerText()).toContain("stack.addConsumer('MyConsumer'");

    await page.fill('#pattern', JSON.stringify({ detail: { build: { state: ['passed'] } } }));
    await page.click('#pattern-go');
    await page.locator('[data-testid=pattern-summary]', { hasText: '0 of 2' }).waitFor(WAIT);
    expect(await page.locator('[data-testid=pattern-event]').first().innerText()).toContain(
      'detail.build.state is "failed"',
    );

    await page.fill('#pattern', JSON.stringify({ detail: { build: { state: [{ prefix: 5 }] } } }));
    await page.click('#pattern-go');
    await page
      .locator('#pattern-error', {
        hasText: 'Invalid event pattern at detail.build.state[0]: prefix match pattern must be a string',
      })
      .waitFor(WAIT);
  });

  it('draws the analytics charts from the records', async () => {
    await page.getByRole('tab', { name: 'Analytics' }).click();
    await page.locator('[data-testid=chart]', { hasText: 'Build time per pipeline' }).waitFor(WAIT);
    expect(await page.locator('[data-testid=chart] svg rect').count()).toBeGreaterThan(0);
  });

  it('never puts a secret in the page, its API answers or its event stream', async () => {
    // Open every delivery so each detail answer has been fetched and rendered.
    await page.getByRole('tab', { name: 'Deliveries' }).click();
    for (const id of [1, 2, 3]) {
      await row(id).click();
      await detail(id).waitFor(WAIT);
    }
    const html = await page.content();
    expect(apiBodies.length).toBeGreaterThan(5);
    expect(streamText).toContain('event: change');
    for (const secret of [TOKEN, CHAT_SECRET, 'chatwebhooksecretpart42', TRIGGER_SECRET_PATH]) {
      expect(html).not.toContain(secret);
      expect(streamText).not.toContain(secret);
      for (const body of apiBodies) expect(body).not.toContain(secret);
    }
  });

  it('shows markup from a delivery as text: body, headers, and the Slack and Teams alerts drawn from it', async () => {
    // A failed build whose pipeline, branch and commit subject are markup, sent signed from the page.
    const build = JSON.parse(readFileSync(path.join(FIXTURES, 'build.finished.json'), 'utf8')) as {
      build: Record<string, unknown>;
      pipeline: Record<string, unknown>;
    };
    build.build.id = '0193a8f0-0000-7000-8000-00000000beef';
    build.build.number = 7001;
    build.build.branch = `fix/${HOSTILE}`;
    build.build.message = `${HOSTILE} in the subject\n\nand the body`;
    build.pipeline.name = `API ${HOSTILE}`;
    await page.getByRole('tab', { name: 'Send' }).click();
    await page.selectOption('#send-mode', 'signature');
    await page.setChecked('#send-wrong', false);
    await page.fill('#send-body', JSON.stringify(build));
    await page.click('#send-go');
    await page.locator('#send-result', { hasText: '202' }).waitFor(WAIT);
    // And a request with markup in a header and as its body (refused: it is not signed).
    const refused = await fetch(`${local.consoleUrl}buildkite`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Note': HOSTILE },
      body: HOSTILE,
    });
    expect(refused.status).toBe(401);

    await page.getByRole('tab', { name: 'Deliveries' }).click();
    await row(4).click();
    const sent = detail(4);
    const slack = sent.locator('[data-testid=chat-alert-slack] .slack');
    const teams = sent.locator('[data-testid=chat-alert-teams] .teams .ac-adaptiveCard');
    await slack.waitFor(WAIT);
    await teams.waitFor(WAIT);
    // The title (pipeline and branch) and the fields (commit subject) of each.
    expect(await slack.locator('.sk-header').innerText()).toContain(`API ${HOSTILE}`);
    expect(await slack.innerText()).toContain(`${HOSTILE} in the subject`);
    expect(await teams.innerText()).toContain(`API ${HOSTILE}`);
    expect(await teams.innerText()).toContain(`${HOSTILE} in the subject`);
    expect(await sent.locator('details pre').last().innerText()).toContain(HOSTILE);
    // Text all the way: no element was made from it (the page's CSP would also stop the handler).
    expect(await page.locator('[onerror]').count()).toBe(0);

    await row(5).click();
    const headers = detail(5).locator('[data-testid=headers]');
    await headers.waitFor(WAIT);
    expect(await headers.innerText()).toMatch(new RegExp(`x-note\\s+${escapeRegExp(HOSTILE)}`, 'i'));
    expect(await detail(5).locator('details pre').last().innerText()).toBe(HOSTILE);

    expect(await page.locator('[onerror]').count()).toBe(0);
    expect(await page.evaluate('document.body.dataset.xss')).toBeUndefined();
  });
});
