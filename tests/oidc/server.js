// A real OAuth 2.1 / OpenID authorization server (oidc-provider) on loopback,
// for the test suite only.
//
//   node server.js settings.json
//
// Listens on 127.0.0.1 (port from the settings, 0 = any free port; the issuer's path from issuer_path) and prints
// one JSON line to stdout once it is listening: {"issuer": ..., "port": ...}.
// Exits when stdin closes, so it never outlives the test run that started it.
//
// Besides the provider's own endpoints it serves:
//   /interaction/:uid              automatic sign-in and consent (see interactions.js)
//   GET  /__admin/keys             current and published signing key ids
//   POST /__admin/keys/rotate      new RS256 + ES256 keys sign from now on; old ones stay published
//   POST /__admin/keys/retire      unpublish every key but the current ones
//   POST /__admin/resources        {"resource", "scopes"|"scope", "alg", "format", "ttl", "audience"}
//   POST /__admin/accounts         {"id", "claims"} (claims replace the account's: groups may change between
//                                  a sign-in and a refresh, whose new ID token carries them)
//   POST /__admin/accounts/remove  {"id"}: the account is gone (its refresh tokens are refused from now on)
//   POST /__admin/default-account  {"account": id or null}
// Admin calls must come from loopback with "Authorization: Bearer <admin_token>".

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { handleInteraction } from './interactions.js';
import { KeyRing } from './keys.js';
import { buildProvider, normalizeResource } from './provider.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const MAX_ADMIN_BODY = 64 * 1024;

const settingsPath = process.argv[2];
if (!settingsPath) {
  process.stderr.write('usage: node server.js <settings.json>\n');
  process.exit(2);
}
const settings = JSON.parse(readFileSync(settingsPath, 'utf8'));
if (typeof settings.admin_token !== 'string' || settings.admin_token.length < 16) {
  process.stderr.write('settings.admin_token must be a random string of at least 16 characters\n');
  process.exit(2);
}

const state = {
  accounts: new Map(Object.entries(settings.accounts ?? {})),
  resources: new Map(Object.entries(settings.resources ?? {}).map(([k, v]) => [k, normalizeResource(k, v)])),
  defaultAccount: settings.default_account ?? null,
};
const keys = new KeyRing();
const cookieKeys = [randomBytes(32).toString('base64url')];
let issuer;
let provider;
let handler;

function rebuild() {
  provider = buildProvider({ issuer, settings, state, keys, cookieKeys });
  handler = provider.callback();
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function adminAllowed(req) {
  if (!LOOPBACK.has(req.socket.remoteAddress)) return false;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${settings.admin_token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY) throw new Error('request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

const adminRoutes = {
  'GET /__admin/keys': async () => keys.describe(),
  'POST /__admin/keys/rotate': async () => {
    keys.rotate();
    rebuild();
    return keys.describe();
  },
  'POST /__admin/keys/retire': async () => {
    keys.retire();
    rebuild();
    return keys.describe();
  },
  'POST /__admin/resources': async (body) => {
    if (typeof body.resource !== 'string' || !body.resource) throw new Error('"resource" must be a non-empty string');
    state.resources.set(body.resource, normalizeResource(body.resource, body));
    rebuild(); // its scopes join scopes_supported
    return { resource: body.resource, ...state.resources.get(body.resource) };
  },
  'POST /__admin/accounts': async (body) => {
    if (typeof body.id !== 'string' || !body.id) throw new Error('"id" must be a non-empty string');
    state.accounts.set(body.id, body.claims ?? {});
    return { id: body.id, claims: state.accounts.get(body.id) };
  },
  'POST /__admin/accounts/remove': async (body) => {
    if (typeof body.id !== 'string' || !body.id) throw new Error('"id" must be a non-empty string');
    return { id: body.id, removed: state.accounts.delete(body.id) };
  },
  'POST /__admin/default-account': async (body) => {
    state.defaultAccount = body.account ?? null;
    return { account: state.defaultAccount };
  },
};

async function serveAdmin(req, res, path) {
  if (!adminAllowed(req)) return sendJson(res, 403, { error: 'admin endpoints need loopback and the admin token' });
  const route = adminRoutes[`${req.method} ${path}`];
  if (!route) return sendJson(res, 404, { error: `no admin route ${req.method} ${path}` });
  try {
    return sendJson(res, 200, await route(await readJson(req)));
  } catch (error) {
    return sendJson(res, 400, { error: error.message });
  }
}

// With settings.issuer_path (Keycloak's shape: "/realms/<name>") the issuer has a path and the provider is
// mounted under it: the prefix is taken off, and oidc-provider finds it again in req.originalUrl.
const ISSUER_PATH = settings.issuer_path ?? '';
if (ISSUER_PATH && !/^(\/[A-Za-z0-9._-]+)+$/.test(ISSUER_PATH)) {
  process.stderr.write('settings.issuer_path must look like /realms/name\n');
  process.exit(2);
}

async function serve(req, res) {
  if (!handler) return sendJson(res, 503, { error: 'starting' });
  if (ISSUER_PATH && (req.url === ISSUER_PATH || req.url.startsWith(`${ISSUER_PATH}/`)
      || req.url.startsWith(`${ISSUER_PATH}?`))) {
    req.originalUrl = req.url;
    req.url = req.url.slice(ISSUER_PATH.length) || '/';
  }
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (path.startsWith('/__admin/')) return serveAdmin(req, res, path);
  if (path.startsWith('/interaction/')) {
    try {
      return await handleInteraction(provider, req, res, state);
    } catch (error) {
      return sendJson(res, 400, { error: 'interaction_failed', error_description: error.message });
    }
  }
  return handler(req, res);
}

const server = createServer((req, res) => {
  serve(req, res).catch((error) => {
    process.stderr.write(`request failed: ${error.stack}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  });
});

server.listen(settings.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}${ISSUER_PATH}`;
  rebuild();
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
