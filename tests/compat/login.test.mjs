// Login and logout with the real Ory Kratos SDK (@ory/kratos-client 26.2.0): native password login,
// its failure, native logout, and a browser login followed by the browser logout flow.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FrontendApi } from '@ory/kratos-client';
import { adminJson, rejectsWithStatus, sdkConfiguration, startService } from './harness.mjs';

const COOKIE_NAME = 'ory_kratos_session';
const PASSWORD = 'correct horse battery staple 42';
const INVALID_CREDENTIALS = 4000006;

/** The name=value pairs of the Set-Cookie headers of an axios response, as one Cookie header. */
function cookiesOf(response) {
  const setCookie = response.headers['set-cookie'] ?? [];
  return setCookie.map((c) => c.split(';')[0].trim());
}

describe('Kratos SDK login and logout against OrleansSessions', () => {
  let service;
  let frontend;

  before(async () => {
    service = await startService();
    frontend = new FrontendApi(sdkConfiguration(service.publicUrl));
  });

  after(async () => {
    await service?.stop();
  });

  async function createPasswordIdentity() {
    const email = `login-${randomUUID()}@example.com`;
    const { body } = await adminJson(service.adminUrl, 'POST', '/admin/identities', {
      schema_id: 'default',
      traits: { email },
      credentials: { password: { config: { password: PASSWORD } } },
    }, 201);
    return { id: body.id, email };
  }

  async function nativeLogin(identifier, password) {
    const { data: flow } = await frontend.createNativeLoginFlow();
    return frontend.updateLoginFlow({
      flow: flow.id,
      updateLoginFlowBody: { method: 'password', identifier, password },
    });
  }

  test('createNativeLoginFlow and updateLoginFlow with a password give a token toSession accepts', async () => {
    const identity = await createPasswordIdentity();

    const { data: flow, status } = await frontend.createNativeLoginFlow();
    assert.equal(status, 200);
    assert.equal(flow.type, 'api');
    assert.deepEqual(flow.ui.nodes.map((n) => n.attributes.name), ['identifier', 'password', 'method']);

    const login = await frontend.updateLoginFlow({
      flow: flow.id,
      updateLoginFlowBody: { method: 'password', identifier: identity.email, password: PASSWORD },
    });
    assert.equal(login.status, 200);
    assert.match(login.data.session_token, /^ory_st_[A-Za-z0-9]{32}$/);
    assert.equal(login.data.session.identity.id, identity.id);

    const { data: session } = await frontend.toSession({ xSessionToken: login.data.session_token });
    assert.equal(session.id, login.data.session.id);
    assert.equal(session.identity.id, identity.id);
  });

  test('a wrong password is 400 with the flow and Kratos\'s invalid-credentials message', async () => {
    const identity = await createPasswordIdentity();

    const response = await rejectsWithStatus(nativeLogin(identity.email, 'not the password'), 400, { envelope: false });

    assert.equal(response.data.type, 'api');
    assert.deepEqual(response.data.ui.messages.map((m) => m.id), [INVALID_CREDENTIALS]);
  });

  test('performNativeLogout revokes the token: toSession is 401 afterwards', async () => {
    const identity = await createPasswordIdentity();
    const { data: login } = await nativeLogin(identity.email, PASSWORD);
    await frontend.toSession({ xSessionToken: login.session_token }); // active before

    const logout = await frontend.performNativeLogout({ performNativeLogoutBody: { session_token: login.session_token } });
    assert.equal(logout.status, 204);

    await rejectsWithStatus(frontend.toSession({ xSessionToken: login.session_token }), 401);
  });

  test('a browser login, then createBrowserLogoutFlow with the cookie gives a logout URL that logs out', async () => {
    const identity = await createPasswordIdentity();
    const flowResponse = await frontend.createBrowserLoginFlow();
    const csrfCookie = cookiesOf(flowResponse).find((c) => c.startsWith('csrf_token_'));
    assert.ok(csrfCookie, 'the flow sets the anti-CSRF cookie');
    const csrfToken = flowResponse.data.ui.nodes.find((n) => n.attributes.name === 'csrf_token').attributes.value;

    const login = await frontend.updateLoginFlow({
      flow: flowResponse.data.id,
      updateLoginFlowBody: { method: 'password', identifier: identity.email, password: PASSWORD, csrf_token: csrfToken },
      cookie: csrfCookie,
    });
    assert.equal(login.status, 200);
    assert.equal(login.data.session_token, undefined, 'browser flows never hand out the token');
    const sessionCookie = cookiesOf(login).find((c) => c.startsWith(`${COOKIE_NAME}=`));
    assert.ok(sessionCookie, 'the login sets the session cookie');

    const { data: logoutFlow, status } = await frontend.createBrowserLogoutFlow({ cookie: sessionCookie });
    assert.equal(status, 200);
    assert.match(logoutFlow.logout_token, /^ory_lo_[A-Za-z0-9]{32}$/);
    const logoutUrl = new URL(logoutFlow.logout_url);
    assert.equal(logoutUrl.pathname, '/self-service/logout');
    assert.equal(logoutUrl.searchParams.get('token'), logoutFlow.logout_token);

    await frontend.updateLogoutFlow({ token: logoutFlow.logout_token, cookie: sessionCookie });
    await rejectsWithStatus(frontend.toSession({ cookie: sessionCookie }), 401);
  });

  test('createBrowserLogoutFlow without a session is 401 session_inactive', async () => {
    const response = await rejectsWithStatus(frontend.createBrowserLogoutFlow(), 401, { envelope: false });
    assert.equal(response.data.error.id, 'session_inactive');
  });
});
