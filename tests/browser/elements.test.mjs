// Ory Elements (@ory/elements-react 1.2.1, unchanged default components and theme) against OrleansSessions in
// headless Chromium: the app of elements-app/ is built with Vite here, served with the Kratos paths on one
// origin, and signs in with a password, and with a password then a TOTP code.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createPasswordIdentity, enrolTotp, launchBrowser, screenshot, startSameOriginServer, startService, totpCode,
} from './browser.mjs';
import { appRoutes, buildElementsApp } from './elements-app/build.mjs';

const PASSWORD = 'correct horse battery staple 42';
const TEST_TIMEOUT_MS = 120_000;

describe('Ory Elements login against OrleansSessions', { timeout: 240_000 }, () => {
  let distDir;
  let web;
  let service;
  let browser;

  before(async () => {
    distDir = mkdtempSync(path.join(os.tmpdir(), 'orleans-sessions-elements-'));
    await buildElementsApp(distDir);
    // The server listens first, so the service's base URL and UI URLs can name its port.
    web = await startSameOriginServer({ staticDir: distDir, appRoutes });
    service = await startService({
      extraArgs: [
        `--serve:public:base_url=${web.url}`,
        `--selfservice:flows:login:ui_url=${web.url}login`,
        `--selfservice:default_browser_return_url=${web.url}session`,
        '--session:whoami:required_aal=highest_available',
      ],
    });
    web.setUpstream(service.publicUrl);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await web?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  /** A fresh browser context (own cookies) whose uncaught page errors fail the test. */
  async function newPage(t) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    t.after(() => context.close());
    const proxiedBefore = web.requests.length;
    const missesBefore = web.misses.length;
    return {
      page,
      /** Nothing the app asked for was missing: no 404 or 5xx from the service, no unknown path, no page error. */
      assertNothingMissing() {
        assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
        const bad = web.requests.slice(proxiedBefore).filter((r) => r.status === 404 || r.status >= 500);
        assert.deepEqual(bad, [], 'Kratos requests the service answered 404 or 5xx');
        assert.deepEqual(web.misses.slice(missesBefore), [], 'requests for paths neither the app nor the service serves');
      },
    };
  }

  /** GET from the page itself, same origin with the browser's cookies: {status, body}. */
  function pageGet(page, pathname) {
    return page.evaluate(async (p) => {
      const response = await fetch(p, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      return { status: response.status, body: await response.json() };
    }, pathname);
  }

  /** Opens /login (which creates a browser flow) and waits for Elements' card; returns the flow the card shows. */
  async function openLogin(page, { aal } = {}) {
    await page.goto(new URL('login', web.url).href);
    await page.waitForURL((url) => url.pathname === '/login' && url.searchParams.has('flow'));
    return waitForFlow(page, aal ?? 'aal1');
  }

  async function waitForFlow(page, aal) {
    const card = page.locator(`[data-testid="login-page"][data-requested-aal="${aal}"] [data-testid="ory/card"]`);
    await card.waitFor({ state: 'visible' });
    const flowId = await page.locator('[data-testid="login-page"]').getAttribute('data-flow-id');
    const { status, body: flow } = await pageGet(page, `/self-service/login/flows?id=${encodeURIComponent(flowId)}`);
    assert.equal(status, 200, 'getLoginFlow through the same-origin server');
    assert.equal(flow.type, 'browser');
    return flow;
  }

  /** Every input node of the flow is in Elements' form: hidden ones with their value, submits as buttons. */
  async function assertRendersNodes(page, flow) {
    const form = page.locator('[data-testid="ory/card"] form');
    const inputs = flow.ui.nodes.filter((n) => n.type === 'input').map((n) => n.attributes);
    assert.ok(inputs.length > 0, 'the flow has input nodes');
    for (const attributes of inputs) {
      if (attributes.type === 'submit') {
        await form.locator(`button[type="submit"][name="${attributes.name}"][value="${attributes.value}"]`).waitFor();
      } else if (attributes.type === 'hidden') {
        // Compared without printing: the value is the anti-CSRF token.
        const value = await form.locator(`input[type="hidden"][name="${attributes.name}"]`).inputValue();
        assert.ok(value === (attributes.value ?? ''), `hidden input ${attributes.name} carries the flow's value`);
      } else {
        await form.locator(`input[name="${attributes.name}"]`).waitFor({ state: 'visible' });
      }
    }
    assert.equal(new URL(await form.getAttribute('action')).href, new URL(flow.ui.action).href, 'the form posts to the flow');
  }

  async function waitForSession(page, email) {
    await page.waitForURL((url) => url.pathname === '/session');
    await page.getByTestId('session-page').waitFor();
    assert.equal(await page.getByTestId('session-email').textContent(), email);
  }

  test('the login card renders the flow and a password sign-in shows the session', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { page, assertNothingMissing } = await newPage(t);
    const email = `elements-${randomUUID()}@example.com`;
    const identity = await createPasswordIdentity(service.adminUrl, { email, password: PASSWORD });

    const flow = await openLogin(page);
    assert.equal(flow.requested_aal, 'aal1');
    assert.deepEqual(flow.ui.nodes.filter((n) => n.type === 'input').map((n) => n.attributes.name).sort(),
      ['csrf_token', 'identifier', 'method', 'password']);
    await assertRendersNodes(page, flow);
    assert.equal(await page.getByText('Sign up').count(), 0, 'no sign-up link: registration is off in the config');
    await screenshot(page, 'elements-password-login');

    const form = page.locator('[data-testid="ory/card"] form');
    await form.locator('input[name="identifier"]').fill(email);
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('button[name="method"][value="password"]').click();

    await waitForSession(page, email);
    assert.equal(await page.getByTestId('session-identity-id').textContent(), identity.id);
    assert.equal(await page.getByTestId('session-aal').textContent(), 'aal1');
    assert.equal(await page.getByTestId('session-methods').textContent(), 'password');
    const whoami = await pageGet(page, '/sessions/whoami');
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.active, true);
    assert.equal(whoami.body.identity.traits.email, email);
    await screenshot(page, 'elements-password-session');

    // The session page's sign-out button: createBrowserLogoutFlow, then its logout URL, which revokes the
    // session and sends the browser back.
    await page.getByTestId('logout').click();
    await page.getByTestId('no-session').waitFor();
    assert.equal(await page.getByTestId('no-session').getAttribute('data-http-status'), '401');
    assert.equal((await pageGet(page, '/sessions/whoami')).status, 401);

    assertNothingMissing();
  });

  test('a wrong password shows Kratos\'s invalid-credentials message in the card', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { page, assertNothingMissing } = await newPage(t);
    const email = `elements-${randomUUID()}@example.com`;
    await createPasswordIdentity(service.adminUrl, { email, password: PASSWORD });

    await openLogin(page);
    const form = page.locator('[data-testid="ory/card"] form');
    await form.locator('input[name="identifier"]').fill(email);
    await form.locator('input[name="password"]').fill('not the password');
    await form.locator('button[name="method"][value="password"]').click();

    // Elements shows a message by its id as the test id.
    const message = page.locator('[data-testid="ory/message/4000006"]');
    await message.waitFor({ state: 'visible' });
    assert.match(await message.textContent(), /credentials are invalid/i);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal((await pageGet(page, '/sessions/whoami')).status, 401);
    await screenshot(page, 'elements-wrong-password');

    assertNothingMissing();
  });

  test('an identity with TOTP signs in with the password, then the code step, and gets an aal2 session', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { page, assertNothingMissing } = await newPage(t);
    const email = `elements-totp-${randomUUID()}@example.com`;
    const identity = await createPasswordIdentity(service.adminUrl, { email, password: PASSWORD });
    const secret = await enrolTotp(service.adminUrl, identity.id);

    await openLogin(page);
    let form = page.locator('[data-testid="ory/card"] form');
    await form.locator('input[name="identifier"]').fill(email);
    await form.locator('input[name="password"]').fill(PASSWORD);
    await form.locator('button[name="method"][value="password"]').click();

    // The service answers 422 browser_location_change_required to /self-service/login/browser?aal=aal2,
    // which Elements follows; the new flow comes back to /login.
    const flow = await waitForFlow(page, 'aal2');
    assert.equal(flow.requested_aal, 'aal2');
    assert.deepEqual(flow.ui.nodes.filter((n) => n.type === 'input').map((n) => n.attributes.name).sort(),
      ['csrf_token', 'method', 'totp_code']);
    await assertRendersNodes(page, flow);
    form = page.locator('[data-testid="ory/card"] form');
    assert.equal(await form.locator('input[name="password"]').count(), 0, 'the second step asks for the code only');
    const between = await pageGet(page, '/sessions/whoami');
    assert.equal(between.status, 403, 'whoami before the second factor');
    assert.equal(between.body.error.id, 'session_aal2_required');
    await screenshot(page, 'elements-totp-step');

    await form.locator('input[name="totp_code"]').fill(totpCode(secret));
    await form.locator('button[name="method"][value="totp"]').click();

    await waitForSession(page, email);
    assert.equal(await page.getByTestId('session-aal').textContent(), 'aal2');
    assert.equal(await page.getByTestId('session-methods').textContent(), 'password, totp');
    const whoami = await pageGet(page, '/sessions/whoami');
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.authenticator_assurance_level, 'aal2');
    assert.equal(whoami.body.identity.id, identity.id);
    await screenshot(page, 'elements-totp-session');

    assertNothingMissing();
  });
});
