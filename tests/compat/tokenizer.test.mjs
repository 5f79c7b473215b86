// Session tokenization as a Kratos client uses it: the real SDK's toSession({ tokenizeAs }) returns the
// session with `tokenized`, and a consumer verifies that JWT with jose against the node's published
// /.well-known/jwks.json, as it would verify any issuer's tokens.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FrontendApi, IdentityApi } from '@ory/kratos-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { adminJson, rejectsWithStatus, sdkConfiguration, startService } from './harness.mjs';

const ISSUER = 'https://sessions.compat.test';
const T = '--session:whoami:tokenizer';

/** One template per algorithm; `ttl` in seconds as the JWT's exp - iat must show it. */
const TEMPLATES = {
  es: { alg: 'ES256', kty: 'EC', ttl: 120, audience: 'orders-api' },
  rs: { alg: 'RS256', kty: 'RSA', ttl: 3600, audience: 'billing-api' },
  ed: { alg: 'EdDSA', kty: 'OKP', ttl: 300, audience: 'search-api' },
};

const TEMPLATE_ARGS = [
  `${T}:issuer=${ISSUER}`,
  ...Object.entries(TEMPLATES).flatMap(([name, t]) => [
    `${T}:templates:${name}:algorithm=${t.alg}`,
    `${T}:templates:${name}:ttl=${t.ttl}s`,
    `${T}:templates:${name}:audience=${t.audience}`,
    `${T}:templates:${name}:claims:email=identity.traits.email`,
    `${T}:templates:${name}:claims:amr=authentication_methods.method`,
  ]),
];

describe('Kratos SDK toSession({ tokenizeAs }) against OrleansSessions', () => {
  let service;
  let frontend;
  let identityApi;
  let jwks;

  before(async () => {
    service = await startService({ extraArgs: TEMPLATE_ARGS });
    frontend = new FrontendApi(sdkConfiguration(service.publicUrl));
    identityApi = new IdentityApi(sdkConfiguration(service.adminUrl));
    jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', service.publicUrl));
  });

  after(async () => {
    await service?.stop();
  });

  async function issueApiSession() {
    const email = `user-${randomUUID()}@example.com`;
    const { body: identity } = await adminJson(service.adminUrl, 'POST', '/admin/identities',
      { schema_id: 'default', traits: { email } }, 201);
    const { body: issued } = await adminJson(service.adminUrl, 'POST', `/admin/identities/${identity.id}/sessions`,
      { channel: 'api' }, 201);
    return { email, identityId: identity.id, sessionId: issued.session.id, token: issued.session_token };
  }

  for (const [name, template] of Object.entries(TEMPLATES)) {
    test(`the ${template.alg} template "${name}" gives a token that verifies with jose against the published JWKS`, async () => {
      const issued = await issueApiSession();

      const response = await frontend.toSession({ xSessionToken: issued.token, tokenizeAs: name });

      assert.equal(response.status, 200);
      assert.equal(response.data.id, issued.sessionId, 'the body is still the session');
      const jwt = response.data.tokenized;
      assert.equal(typeof jwt, 'string', `tokenized in ${JSON.stringify(response.data)}`);

      const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { issuer: ISSUER, audience: template.audience });
      assert.equal(protectedHeader.alg, template.alg);
      assert.equal(protectedHeader.typ, 'JWT');
      assert.equal(payload.sub, issued.identityId);
      assert.equal(payload.sid, issued.sessionId);
      assert.equal(payload.aud, template.audience);
      assert.equal(payload.exp - payload.iat, template.ttl);
      assert.equal(payload.email, issued.email);
      assert.deepEqual(payload.amr, response.data.authentication_methods.map((m) => m.method));

      // The signing key is published under the header's kid, with the header's algorithm, public part only.
      const published = await fetch(new URL('/.well-known/jwks.json', service.publicUrl));
      assert.match(published.headers.get('cache-control'), /^public, max-age=\d+$/);
      const key = (await published.json()).keys.find((k) => k.kid === protectedHeader.kid);
      assert.ok(key, `kid ${protectedHeader.kid} is in the JWKS`);
      assert.equal(key.alg, template.alg);
      assert.equal(key.kty, template.kty);
      assert.equal(key.d, undefined, 'no private part in the JWKS');
    });
  }

  test('a token of one template does not verify for another template\'s audience', async () => {
    const issued = await issueApiSession();
    const { data } = await frontend.toSession({ xSessionToken: issued.token, tokenizeAs: 'es' });
    assert.equal(decodeProtectedHeader(data.tokenized).alg, 'ES256');
    await assert.rejects(jwtVerify(data.tokenized, jwks, { issuer: ISSUER, audience: TEMPLATES.rs.audience }),
      (e) => e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && e.claim === 'aud');
  });

  test('an unknown template makes toSession reject with 400', async () => {
    const issued = await issueApiSession();
    const response = await rejectsWithStatus(frontend.toSession({ xSessionToken: issued.token, tokenizeAs: 'no-such-template' }), 400);
    assert.equal(response.data.error.reason, 'Unable to find tokenizer template "no-such-template".');
  });

  test('a revoked session makes toSession reject with 401 and no token', async () => {
    const issued = await issueApiSession();
    await frontend.toSession({ xSessionToken: issued.token, tokenizeAs: 'es' }); // tokenized while active

    assert.equal((await identityApi.disableSession({ id: issued.sessionId })).status, 204);

    const response = await rejectsWithStatus(frontend.toSession({ xSessionToken: issued.token, tokenizeAs: 'es' }), 401);
    assert.equal(response.data.tokenized, undefined);
  });
});
