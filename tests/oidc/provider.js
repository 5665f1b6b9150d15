// Builds the oidc-provider instance from the test settings.
//
// `state` holds what tests may change while the server runs (accounts,
// resources, the default account); every hook below reads it at call time.
// `keys` is the KeyRing; a rotation builds a new Provider over the same
// state, storage and cookie keys, so sessions and tokens survive it.

import Provider, { errors } from 'oidc-provider';

import { SharedMemoryAdapter } from './adapter.js';
import { ALGORITHMS } from './keys.js';

const DEFAULT_CLAIMS = {
  openid: ['sub', 'hd'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'picture', 'locale'],
};

// A resource definition as the tests write it -> what oidc-provider expects.
export function normalizeResource(indicator, definition) {
  const format = definition.format ?? 'jwt';
  const alg = definition.alg ?? 'RS256';
  if (!['jwt', 'opaque'].includes(format)) {
    throw new Error(`resource ${indicator}: format must be "jwt" or "opaque", not ${JSON.stringify(format)}`);
  }
  if (!ALGORITHMS.includes(alg)) {
    throw new Error(`resource ${indicator}: alg must be one of ${ALGORITHMS.join(', ')}, not ${JSON.stringify(alg)}`);
  }
  const scope = Array.isArray(definition.scopes) ? definition.scopes.join(' ') : (definition.scope ?? '');
  return {
    scope, format, alg, ttl: definition.ttl ?? 600, audience: definition.audience,
  };
}

function resourceServerInfo(state, keys) {
  return async function getResourceServerInfo(ctx, indicator) {
    const resource = state.resources.get(indicator) ?? state.resources.get('*');
    if (!resource) {
      throw new errors.InvalidTarget(`resource ${indicator} is not configured on this test server`);
    }
    const info = { scope: resource.scope, accessTokenTTL: resource.ttl, accessTokenFormat: resource.format };
    if (resource.audience) info.audience = resource.audience;
    if (resource.format === 'jwt') {
      info.jwt = { sign: { alg: resource.alg, kid: keys.currentKid(resource.alg) } };
    }
    return info;
  };
}

function fetchWithMap(fetchMap) {
  // Client ID Metadata Documents must live at https URLs; tests serve them on
  // loopback over http, so mapped prefixes are rewritten (and the provider's
  // guard against private addresses is dropped for them only).
  return async function fetchDocument(url, options) {
    const href = String(url);
    for (const [from, to] of Object.entries(fetchMap)) {
      if (href.startsWith(from)) {
        const { dispatcher, ...rest } = options;
        return globalThis.fetch(to + href.slice(from.length), rest);
      }
    }
    return globalThis.fetch(url, options);
  };
}

export function buildProvider({ issuer, settings, state, keys, cookieKeys }) {
  const accessTokenClaims = settings.access_token_claims ?? [];
  const provider = new Provider(issuer, {
    adapter: SharedMemoryAdapter,
    jwks: keys.privateJwks(),
    clients: settings.clients ?? [],
    cookies: { keys: cookieKeys },
    claims: settings.claims ?? DEFAULT_CLAIMS,
    // Resource scopes are listed too, so that clients may register with them (RFC 7591 `scope`).
    scopes: [...new Set([
      'openid', 'offline_access', 'email', 'profile', ...(settings.scopes ?? []),
      ...[...state.resources.values()].flatMap((resource) => resource.scope.split(' ').filter(Boolean)),
    ])],
    responseTypes: ['code'],
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: settings.ttl ?? {},
    async findAccount(ctx, sub) {
      const claims = state.accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ ...claims, sub }) };
    },
    async extraTokenClaims(ctx, token) {
      const claims = token.accountId ? state.accounts.get(token.accountId) : undefined;
      if (!claims || !accessTokenClaims.length) return undefined;
      return Object.fromEntries(accessTokenClaims.filter((name) => name in claims).map((name) => [name, claims[name]]));
    },
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    // Okta and Entra rotate refresh tokens at each use; oidc-provider, by default, public clients' only.
    ...(settings.rotate_refresh_tokens ? { rotateRefreshToken: () => true } : {}),
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
    fetch: fetchWithMap(settings.cimd_fetch_map ?? {}),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      registration: { enabled: settings.registration ?? true },
      registrationManagement: { enabled: settings.registration ?? true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: resourceServerInfo(state, keys),
        useGrantedResource: async () => true,
      },
      clientIdMetadataDocument: { enabled: settings.cimd ?? true, ack: 'draft-02' },
    },
  });
  provider.on('server_error', (ctx, error) => {
    process.stderr.write(`oidc-provider server_error on ${ctx.method} ${ctx.path}: ${error.stack}\n`);
  });
  return provider;
}
