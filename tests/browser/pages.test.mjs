// The service's own pages in headless Chromium with JavaScript turned off (they must work without it):
// sign in with a wrong then the right password, the TOTP step, ending another device's session, ending all
// others, signing out, and the admin page revoking a user's sessions. Each test saves a screenshot; a
// Content-Security-Policy violation anywhere fails the test.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  createPasswordIdentity, enrolTotp, freePort, launchBrowser, screenshot, startService, totpCode,
} from './browser.mjs';

const PASSWORD = 'correct horse battery staple 42';
const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

describe('the pages of the service', { timeout: 300_000 }, () => {
  let service;
  let browser;
  let base;

  before(async () => {
    // The public base URL names the port the browser uses, so every link and form action points back here.
    const port = await freePort();
    base = `http://127.0.0.1:${port}/`;
    service = await startService({ extraArgs: [`--serve:public:port=${port}`, `--serve:public:base_url=${base}`] });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
  });

  /** A browser of its own (cookies), without JavaScript; CSP violations and page errors are collected and fail the test. */
  async function newBrowser(t, options = {}) {
    const context = await browser.newContext({ javaScriptEnabled: false, ...options });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    t.after(async () => {
      await context.close();
      assert.deepEqual(problems, [], 'the pages broke their own Content-Security-Policy');
    });
    return { context, page };
  }

  async function newUser({ totp = false } = {}) {
    const email = `pages-${randomUUID()}@example.com`;
    const { id } = await createPasswordIdentity(service.adminUrl, { email, password: PASSWORD });
    const secret = totp ? await enrolTotp(service.adminUrl, id) : null;
    return { id, email, secret };
  }

  /** Opens the sessions page; a signed-out browser is sent to the sign-in page. */
  async function openSessions(page) {
    await page.goto(`${base}ui/sessions`);
  }

  function onSignInPage(page) {
    const url = new URL(page.url());
    return url.pathname === '/ui/login' && url.searchParams.has('flow');
  }

  /** Signs in through the pages (password, and the code when the account has TOTP) and lands on the sessions page. */
  async function signIn(page, user) {
    await openSessions(page);
    assert.ok(onSignInPage(page), `expected the sign-in page, got ${page.url()}`);
    await page.getByLabel('ID').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in with password' }).click();
    if (user.secret) {
      await page.getByLabel('Authentication code').fill(totpCode(user.secret));
      await page.getByRole('button', { name: 'Use Authenticator' }).click();
    }
    await page.waitForURL(`${base}ui/sessions`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your sessions');
  }

  test('sign in with a wrong password, then the right one, by keyboard', async (t) => {
    const user = await newUser();
    const { page } = await newBrowser(t);
    await openSessions(page);
    assert.ok(onSignInPage(page), 'a signed-out visitor to the sessions page is sent to sign in');
    const signInUrl = page.url();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign in');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await screenshot(page, 'sign-in');

    // The identifier field has the focus; Tab goes to the password, then to the button.
    await page.keyboard.type(user.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /The provided credentials are invalid/);
    assert.equal(page.url(), signInUrl, 'the same flow is shown again, with Kratos\'s message');
    assert.equal(await page.getByLabel('ID').inputValue(), user.email, 'the identifier is kept');
    await screenshot(page, 'sign-in-wrong-password');

    await page.getByLabel('Password').focus();
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').textContent(), 'Sign in with password');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}ui/sessions`);
    assert.match(await page.locator('main').textContent(), new RegExp(`Signed in as ${user.email.replace('.', '\\.')}`));
    assert.match(await page.locator('.session.current').textContent(), /this device/);
    assert.match(await page.locator('main').textContent(), /You are not signed in anywhere else/);
    await screenshot(page, 'sessions-one-device');
  });

  test('an account with TOTP signs in with its code after the password', async (t) => {
    const user = await newUser({ totp: true });
    const { page } = await newBrowser(t);
    await openSessions(page);
    await page.getByLabel('ID').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in with password' }).click();

    assert.ok(onSignInPage(page), `expected the second factor's page, got ${page.url()}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Two-factor authentication');
    const wrong = totpCode(user.secret, Date.now() + 10 * 60_000);
    await page.getByLabel('Authentication code').fill(wrong === totpCode(user.secret) ? '000000' : wrong);
    await page.getByRole('button', { name: 'Use Authenticator' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /The provided authentication code is invalid/);
    await screenshot(page, 'sign-in-totp');

    await page.getByLabel('Authentication code').fill(totpCode(user.secret));
    await page.getByRole('button', { name: 'Use Authenticator' }).click();
    await page.waitForURL(`${base}ui/sessions`);
    assert.match(await page.locator('main').textContent(), /This device/);
  });

  test('one device ends another device\'s session, which is signed out on its next page', async (t) => {
    const user = await newUser();
    const first = await newBrowser(t);
    const second = await newBrowser(t, { userAgent: FIREFOX });
    await signIn(second.page, user);
    await signIn(first.page, user);

    await first.page.reload();
    const others = first.page.locator('ul.sessions > li');
    assert.equal(await others.count(), 1);
    assert.match(await others.first().textContent(), /Firefox 133 on Ubuntu/);
    assert.match(await others.first().textContent(), /127\.0\.0\.1/);
    await screenshot(first.page, 'sessions');

    await others.first().getByRole('button', { name: 'End this session' }).click();
    await first.page.waitForURL(`${base}ui/sessions?notice=ended`);
    assert.match(await first.page.getByRole('status').first().textContent(), /The session was ended/);
    assert.equal(await first.page.locator('ul.sessions > li').count(), 0);

    await second.page.reload();
    assert.ok(onSignInPage(second.page), `the ended device is signed out, got ${second.page.url()}`);
    await screenshot(second.page, 'sessions-ended-elsewhere');
  });

  test('end all other sessions', async (t) => {
    const user = await newUser();
    const mine = await newBrowser(t, { viewport: { width: 375, height: 740 } });
    const phone = await newBrowser(t, { userAgent: IPHONE });
    const laptop = await newBrowser(t, { userAgent: FIREFOX });
    await signIn(phone.page, user);
    await signIn(laptop.page, user);
    await signIn(mine.page, user);
    assert.equal(await mine.page.locator('ul.sessions > li').count(), 2);
    assert.match(await mine.page.locator('ul.sessions').textContent(), /Mobile Safari 18 on iOS 18/);
    await screenshot(mine.page, 'sessions-phone-width');

    await mine.page.getByRole('button', { name: /Sign out all other sessions/ }).click();
    await mine.page.waitForURL(/notice=ended-others/);
    assert.match(await mine.page.getByRole('status').first().textContent(), /2 other sessions were ended/);
    for (const other of [phone, laptop]) {
      await other.page.reload();
      assert.ok(onSignInPage(other.page), 'every other device is signed out');
    }
    await mine.page.reload();
    assert.equal(new URL(mine.page.url()).pathname, '/ui/sessions', 'this device stays signed in');
  });

  test('sign out', async (t) => {
    const user = await newUser();
    const { context, page } = await newBrowser(t);
    await signIn(page, user);
    assert.ok((await context.cookies()).some((c) => c.name === 'ory_kratos_session'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.ok(onSignInPage(page), `after signing out the browser is asked to sign in, got ${page.url()}`);
    assert.ok(!(await context.cookies()).some((c) => c.name === 'ory_kratos_session'), 'the session cookie is gone');
    await screenshot(page, 'signed-out');
    await openSessions(page);
    assert.ok(onSignInPage(page));
  });

  test('the admin page revokes all of a user\'s sessions, and the user is signed out', async (t) => {
    const user = await newUser();
    const userBrowser = await newBrowser(t, { userAgent: FIREFOX });
    const lostPhone = await newBrowser(t, { userAgent: IPHONE });
    await signIn(lostPhone.page, user);
    await signIn(userBrowser.page, user);

    // Basic authentication as the dashboard (the node is in dev mode, where the admin port is open anyway).
    const admin = await newBrowser(t, { httpCredentials: { username: 'support', password: 'dev' } });
    await admin.page.goto(`${service.adminUrl.replace(/\/$/, '')}/admin/ui`);
    await admin.page.getByLabel('Identifier or identity id').fill(user.email);
    await admin.page.getByRole('button', { name: 'Find' }).click();
    await admin.page.getByRole('link', { name: user.email }).click();
    assert.equal(await admin.page.getByRole('heading', { level: 1 }).textContent(), user.email);
    assert.match(await admin.page.locator('#sessions').textContent(), /2 active/);
    assert.match(await admin.page.locator('ul.sessions').textContent(), /Firefox 133 on Ubuntu/);
    await screenshot(admin.page, 'admin-identity');

    // One session: the lost phone's.
    const phoneRow = admin.page.locator('ul.sessions > li', { hasText: 'Mobile Safari 18 on iOS 18' });
    await phoneRow.getByRole('button', { name: 'Revoke this session' }).click();
    await admin.page.waitForURL(/notice=revoked$/);
    assert.match(await admin.page.locator('#sessions').textContent(), /1 active/);
    assert.equal(await admin.page.locator('ul.sessions > li[data-active="false"]').count(), 1);
    await lostPhone.page.reload();
    assert.ok(onSignInPage(lostPhone.page), 'the revoked phone is signed out');
    await userBrowser.page.reload();
    assert.equal(new URL(userBrowser.page.url()).pathname, '/ui/sessions', 'the other device is not');

    // Found by its id too.
    await admin.page.goto(`${service.adminUrl.replace(/\/$/, '')}/admin/ui?q=${user.id}`);
    assert.equal(await admin.page.getByRole('link', { name: user.email }).count(), 1);
    await admin.page.getByRole('link', { name: user.email }).click();

    await admin.page.getByRole('button', { name: 'Revoke all sessions' }).click();
    await admin.page.waitForURL(/notice=revoked-all/);
    assert.match(await admin.page.locator('#sessions').textContent(), /0 active/);
    await screenshot(admin.page, 'admin-revoked');

    await userBrowser.page.reload();
    assert.ok(onSignInPage(userBrowser.page), `the user is signed out, got ${userBrowser.page.url()}`);

    // Disable, then enable: a disabled identity cannot sign in.
    await admin.page.getByRole('button', { name: 'Disable this identity' }).click();
    await admin.page.waitForURL(/notice=inactive/);
    assert.equal(await admin.page.locator('[data-state]').textContent(), 'inactive');
    await userBrowser.page.getByLabel('ID').fill(user.email);
    await userBrowser.page.getByLabel('Password').fill(PASSWORD);
    await userBrowser.page.getByRole('button', { name: 'Sign in with password' }).click();
    assert.notEqual(new URL(userBrowser.page.url()).pathname, '/ui/sessions', 'a disabled identity is not signed in');
    await admin.page.getByRole('button', { name: 'Enable this identity' }).click();
    await admin.page.waitForURL(/notice=active/);
    await signIn(userBrowser.page, user);
  });
});
