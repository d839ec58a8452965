import type { ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '../helpers/browser';
import { BROWSER_LAUNCH_TIMEOUT_MS, launchBrowser } from '../helpers/browser';
import { DEV_TOKEN, eventually, useSdkSuite } from '../helpers/embedded-server';

/** How long the UI gets to show something: a live poll is 2 s, deliveries are local. */
const UI_TIMEOUT_MS = 15_000;

describe('the console, in Chromium', () => {
  const suite = useSdkSuite();
  let browser: TestBrowser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, BROWSER_LAUNCH_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    page = await browser.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => void dialog.accept());
  });
  afterEach(async () => {
    await page.close();
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const signIn = async () => {
    await page.goto(`${suite.server.url}/`);
    await page.getByLabel('Token').fill(DEV_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Sections' }).waitFor();
  };
  const open = async (hash: string) => {
    await page.goto(`${suite.server.url}/#${hash}`);
  };
  /** The table row naming `text`, once it is shown. */
  const row = async (text: string) => {
    const found = page.getByRole('row').filter({ hasText: text });
    await found.first().waitFor();
    return found;
  };

  it('serves a page without data under a strict CSP, and keeps the token in the tab only', async () => {
    const answer = await fetch(`${suite.server.url}/`);
    const html = await answer.text();
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(answer.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).not.toContain(DEV_TOKEN);
    expect((await fetch(`${suite.server.url}/v2/queues`)).status).toBe(401);

    await page.goto(`${suite.server.url}/`);
    await page.getByLabel('Token').fill('not-the-token');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'invalid token' }).waitFor();

    // Keyboard only: the token field, then Enter.
    await page.getByLabel('Token').fill('');
    await page.getByLabel('Token').focus();
    await page.keyboard.type(DEV_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Messages' }).waitFor();

    // Evaluated in the page (a string: these tests are type-checked without the DOM's types).
    const storage = (await page.evaluate(`({
      session: sessionStorage.getItem('sqstash.token'),
      local: localStorage.length,
      cookie: document.cookie,
      text: document.documentElement.outerHTML,
    })`)) as { session: string | null; local: number; cookie: string; text: string };
    expect(storage.session).toBe(DEV_TOKEN);
    expect(storage.local).toBe(0);
    expect(storage.cookie).toBe('');
    expect(storage.text).not.toContain(DEV_TOKEN);
    const origin = new URL(suite.server.url).origin;
    for (const request of browser.requests) {
      expect(new URL(request.url()).origin).toBe(origin);
      expect(request.url()).not.toContain(encodeURIComponent(DEV_TOKEN));
      if (new URL(request.url()).pathname.startsWith('/v2/')) {
        expect(await request.headerValue('authorization')).toMatch(/^Bearer /);
      }
    }

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('sqstash.token')")).toBeNull();
  });

  it('publishes from the request builder; the receiver gets it and the timeline shows the delivery', async () => {
    const receiver = await suite.startReceiver(() => ({ status: 201, body: 'thanks' }));
    await signIn();
    await open('/publish');
    await page.getByLabel('Destination').fill(`${receiver.url}/orders?tenant=7`);
    await page.getByLabel('Headers').fill('X-Trace: trace-42');
    await page.getByLabel('Body').fill('{"order":42}');
    await page.getByRole('button', { name: 'Send' }).click();

    // Any answer, then its status: a failure shows what the server said, not only a timeout.
    const answer = page.getByRole('heading', { name: /Answer HTTP/ });
    await answer.waitFor({ timeout: 30_000 });
    expect(await answer.textContent()).toMatch(/Answer HTTP 200/);
    const [delivered] = await receiver.waitForRequests(1);
    expect(delivered!.path).toBe('/orders?tenant=7');
    expect(delivered!.headers['x-trace']).toBe('trace-42');
    expect(delivered!.headers['content-type']).toBe('application/json');
    expect(delivered!.body.toString()).toBe('{"order":42}');
    const messageId = String(delivered!.headers['upstash-message-id']);

    await page.getByRole('link', { name: `Follow ${messageId}` }).click();
    await page.getByRole('heading', { name: new RegExp(`Message ${messageId}`) }).waitFor();
    const timeline = page.getByRole('list').filter({ hasText: 'HTTP 201' });
    await timeline.waitFor();
    expect(await timeline.getByRole('listitem').allInnerTexts()).toEqual([
      expect.stringContaining('created'),
      expect.stringContaining('attempt started'),
      expect.stringContaining('delivered'),
    ]);
    await page.getByText('X-Trace').waitFor();
  });

  it('shows new messages and their state changes live, without a reload', async () => {
    // A destination that holds each request until the test answers it, so the message is seen
    // in flight for as long as the test needs, however slow the machine.
    const held: ServerResponse[] = [];
    const destination = createServer((request, response) => {
      request.resume();
      held.push(response);
    });
    await new Promise<void>((resolve) => destination.listen(0, '127.0.0.1', resolve));
    const { port } = destination.address() as AddressInfo;
    try {
      const label = `live-${Date.now()}`;
      await signIn();
      await open(`/messages?label=${label}`);
      await page.getByText('No messages match.').waitFor();

      const { messageId } = await suite.client.publishJSON({
        url: `http://127.0.0.1:${port}/slow`,
        body: { live: true },
        label,
      });

      const shown = await row(messageId);
      await shown.getByText('in flight').waitFor();
      await eventually(() => expect(held).toHaveLength(1));
      held[0]!.end('ok');
      await shown.getByText('delivered').waitFor();
    } finally {
      destination.closeAllConnections();
      await new Promise<void>((resolve) => destination.close(() => resolve()));
    }
  });

  it('renders what the API returns as text, never as markup', async () => {
    const receiver = await suite.startReceiver(() => ({
      status: 500,
      body: '<img src=x onerror="document.title=\'pwned\'">',
    }));
    const { messageId } = await suite.client.publish({
      url: `${receiver.url}/xss`,
      body: '<script>document.title="pwned"</script><b>bold</b>',
      headers: { 'X-Html': '<i>italic</i>' },
      retries: 0,
    });
    await receiver.waitForRequests(1);
    await signIn();
    await open(`/messages/${messageId}`);

    await page
      .getByText('<img src=x onerror="document.title=\'pwned\'">', { exact: true })
      .waitFor();
    await page
      .getByText('<script>document.title="pwned"</script><b>bold</b>', { exact: true })
      .waitFor();
    await page.getByText('<i>italic</i>', { exact: true }).waitFor();
    expect(await page.locator('main img, main b, main i, main script').count()).toBe(0);
    expect(await page.title()).toBe('sqstash console');
  });

  it('finds failed messages in the DLQ, retries one and many, and deletes one', async () => {
    let healthy = false;
    const receiver = await suite.startReceiver(() =>
      healthy ? { status: 200 } : { status: 503, body: 'down' },
    );
    const label = `dlq-${Date.now()}`;
    const publish = (n: number) =>
      suite.client.publishJSON({ url: `${receiver.url}/job/${n}`, body: { n }, retries: 0, label });
    const failed = [await publish(1), await publish(2), await publish(3), await publish(4)];
    await receiver.waitForRequests(4);
    await signIn();
    await open(`/dlq?label=${label}`);
    for (const { messageId } of failed) await row(messageId);
    healthy = true;

    await page.getByRole('button', { name: `Retry ${failed[0]!.messageId}` }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 1 message.' }).waitFor();
    await receiver.waitForRequests(5);

    await page
      .getByRole('row')
      .filter({ hasText: failed[0]!.messageId })
      .waitFor({ state: 'detached' });
    for (const { messageId } of failed.slice(1, 3)) {
      const entry = await row(messageId);
      await entry.getByRole('checkbox').check();
    }
    await page.getByRole('button', { name: 'Retry selected (2)' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 2 messages.' }).waitFor();
    await receiver.waitForRequests(7);

    await page
      .getByRole('button', { name: `Delete dead letter of ${failed[3]!.messageId}` })
      .click();
    await page.getByRole('status').filter({ hasText: 'Deleted 1 dead letter.' }).waitFor();
    await page.getByText('The DLQ holds no failed messages that match.').waitFor();
    expect(
      receiver.requests
        .slice(4)
        .map((request) => request.path)
        .sort(),
    ).toEqual(['/job/1', '/job/2', '/job/3']);
  });

  it('lists flow-control keys with their waitlist and limits, and pauses and resumes one', async () => {
    const receiver = await suite.startReceiver();
    const key = `limited-${Date.now()}`;
    const other = `held-${Date.now()}`;
    // Paused first, so the messages wait in the key's waitlist while the page shows them.
    await suite.client.flowControl.pause(key);
    for (let n = 0; n < 3; n += 1) {
      await suite.client.publishJSON({
        url: `${receiver.url}/limited/${n}`,
        body: { n },
        flowControl: { key, parallelism: 2, rate: 10, period: '1m' },
      });
    }
    // A key with no message is listed while something is set on it.
    await suite.client.flowControl.pause(other);
    await signIn();
    await open('/queues');

    const entry = await row(key);
    await entry.getByText('paused').waitFor();
    expect(await entry.getByRole('cell').allTextContents()).toEqual([
      key,
      '3',
      '0 / 2',
      '0 / 10 per 60 s',
      'paused',
      'Resume',
    ]);
    expect(await (await row(other)).getByRole('cell').allTextContents()).toEqual([
      other,
      '0',
      '0 / ∞',
      '0 / ∞',
      'paused',
      'Resume',
    ]);

    // The key links to its messages.
    await entry.getByRole('link', { name: key }).click();
    await page.getByRole('heading', { name: 'Messages' }).waitFor();
    expect(await page.getByLabel('Flow-control key').inputValue()).toBe(key);
    await eventually(async () =>
      expect(await page.getByRole('row').filter({ hasText: '/limited/' }).count()).toBe(3),
    );
    await open('/queues');

    await page.getByRole('button', { name: `Resume flow-control key ${key}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Resumed ${key}.` })
      .waitFor();
    await receiver.waitForRequests(3);
    expect((await suite.client.flowControl.get(key)).isPaused).toBe(false);
    expect((await suite.client.flowControl.get(other)).isPaused).toBe(true);
    // Delivered: none waits, and the rate counts the three starts of this minute.
    await entry.getByRole('cell', { name: '3 / 10 per 60 s' }).waitFor();
    expect(await entry.getByRole('cell').nth(1).textContent()).toBe('0');

    await page.getByRole('button', { name: `Pause flow-control key ${key}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Paused ${key}.` })
      .waitFor();
    await entry.getByText('paused').waitFor();
    expect((await suite.client.flowControl.get(key)).isPaused).toBe(true);
  });

  it('keeps what is typed into a form before the view has painted its first frame', async () => {
    // A view's mount effects run a frame after it renders; on a busy machine a user (or a test)
    // can type in between, and a form that reset itself then would lose the input.
    await signIn();
    const typed = await page.evaluate(`(async () => {
      location.hash = '#/schedules';
      let field;
      while (!(field = document.querySelector('input[name=destination]'))) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      field.value = 'https://example.com/typed';
      field.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 100)));
      return document.querySelector('input[name=destination]').value;
    })()`);
    expect(typed).toBe('https://example.com/typed');
  });

  it('creates a schedule, pauses and resumes it, and deletes it', async () => {
    const scheduleId = `nightly-${Date.now()}`;
    await signIn();
    await open('/schedules');
    await page.getByLabel('Destination').fill('https://example.com/nightly');
    await page.getByLabel('Cron').fill('0 3 * * *');
    await page.getByLabel('Schedule id').fill(scheduleId);
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Created schedule ${scheduleId}.` })
      .waitFor();
    const schedule = () => suite.client.schedules.get(scheduleId);

    const entry = await row(scheduleId);
    await entry.getByText('active').waitFor();
    await page.getByRole('button', { name: `Pause ${scheduleId}` }).click();
    await entry.getByText('paused').waitFor();
    expect((await schedule()).isPaused).toBe(true);

    await page.getByRole('button', { name: `Resume ${scheduleId}` }).click();
    await entry.getByText('active').waitFor();
    expect((await schedule()).isPaused).toBe(false);
    expect((await schedule()).cron).toBe('0 3 * * *');

    await page.getByRole('button', { name: `Delete ${scheduleId}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted ${scheduleId}.` })
      .waitFor();
    await eventually(async () => {
      expect((await suite.client.schedules.list()).map((s) => s.scheduleId)).not.toContain(
        scheduleId,
      );
    });
  });
});
