// Shared helpers of the browser tests: headless Chromium (Debian's package, driven by playwright-core),
// screenshots, identities with a password and TOTP made through the admin API, and a same-origin server
// that serves a built web app and passes the Kratos paths on to the service's public port.
//
// startService and freePort come from the compat harness (its @ory/kratos-client resolves from
// tests/compat/node_modules, which .ci/run and test.sh install).

import { createHmac } from 'node:crypto';
import { createReadStream, mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { adminJson, freePort, startService } from '../compat/harness.mjs';

export { adminJson, freePort, startService };

const here = path.dirname(fileURLToPath(import.meta.url));
export const screenshotDir = path.join(here, 'screenshots');

/** Headless Chromium: CHROMIUM names the binary, Debian's /usr/bin/chromium by default (no browser downloads). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

/** A full-page PNG in tests/browser/screenshots/<name>.png; returns its path. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * An identity of the default schema with a password credential (POST /admin/identities, credentials import).
 * @returns {Promise<{id: string, email: string}>}
 */
export async function createPasswordIdentity(adminUrl, { email, password }, { adminKey } = {}) {
  const { body } = await adminJson(adminUrl, 'POST', '/admin/identities', {
    schema_id: 'default',
    traits: { email },
    credentials: { password: { config: { password } } },
  }, 201, { adminKey });
  return { id: body.id, email };
}

/** Enrols TOTP for an identity (PUT /admin/identities/{id}/credentials/totp with a generated secret); returns the base32 secret. */
export async function enrolTotp(adminUrl, identityId, { adminKey } = {}) {
  const { body } = await adminJson(adminUrl, 'PUT', `/admin/identities/${encodeURIComponent(identityId)}/credentials/totp`,
    {}, 200, { adminKey });
  const secret = new URL(body.totp_url).searchParams.get('secret');
  if (!secret) throw new Error('the TOTP URL the service answered has no secret');
  return secret;
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error('not a base32 secret');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The RFC 6238 code (HMAC-SHA1, 6 digits, 30-second steps) of a base32 secret at `time` (ms since the epoch). */
export function totpCode(secret, time = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30_000)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

/** The Kratos public paths a same-origin server passes on to the service. */
export const KRATOS_PATHS = ['/self-service/', '/sessions', '/.well-known/', '/schemas', '/health/'];

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

// Request and response headers that belong to one connection, not to the message.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

function withoutHopByHop(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}

/**
 * Listens on 127.0.0.1 (port 0 unless given) before the service starts, so the service's base URL can name it:
 * static files of `staticDir` (`appRoutes` answer index.html), and requests under `kratosPaths` passed on to
 * the upstream set later with `setUpstream(publicUrl)`. `requests` records what was passed on (method, path
 * without the query, status) and `misses` what was neither, for the test to check; neither keeps headers or queries.
 * @returns {Promise<{url: string, port: number, setUpstream: (url: string) => void,
 *   requests: {method: string, path: string, status: number}[], misses: {method: string, path: string}[], close: () => Promise<void>}>}
 */
export async function startSameOriginServer({ staticDir, appRoutes = [], kratosPaths = KRATOS_PATHS, port = 0 }) {
  let upstream = null;
  const requests = [];
  const misses = [];
  const root = path.resolve(staticDir);

  const proxy = (req, res, pathname) => {
    if (!upstream) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('no upstream yet');
      return;
    }
    const target = new URL(req.url, upstream);
    const outgoing = http.request(target, {
      method: req.method,
      // The Host header stays the browser's: the service's own URLs come from its base URL anyway.
      headers: withoutHopByHop(req.headers),
    }, (answer) => {
      requests.push({ method: req.method, path: pathname, status: answer.statusCode });
      res.writeHead(answer.statusCode, answer.statusMessage, withoutHopByHop(answer.headers));
      answer.pipe(res);
    });
    outgoing.on('error', (error) => {
      requests.push({ method: req.method, path: pathname, status: 502 });
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`upstream error: ${error.code ?? error.message}`);
    });
    req.pipe(outgoing);
  };

  const sendFile = (res, file) => {
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
    });
    createReadStream(file).pipe(res);
  };

  const server = http.createServer((req, res) => {
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad path');
      return;
    }
    if (kratosPaths.some((prefix) => pathname === prefix.replace(/\/$/, '') || pathname.startsWith(prefix))) {
      proxy(req, res, pathname);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (appRoutes.includes(pathname)) {
        sendFile(res, path.join(root, 'index.html'));
        return;
      }
      const file = path.resolve(root, '.' + pathname);
      if (file.startsWith(root + path.sep) && statSync(file, { throwIfNoEntry: false })?.isFile()) {
        sendFile(res, file);
        return;
      }
    }
    misses.push({ method: req.method, path: pathname });
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  return {
    url: `http://127.0.0.1:${actualPort}/`,
    port: actualPort,
    setUpstream: (url) => { upstream = url; },
    requests,
    misses,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
