// Signing keys of the test authorization server, in generations.
//
// Every generation holds one RS256 and one ES256 key, generated in memory.
// The newest generation signs; older ones stay in the JWKS until retired,
// so tokens they signed keep verifying while a rotation rolls out.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

export const ALGORITHMS = ['RS256', 'ES256'];

function generate(alg, generation) {
  const { privateKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `${alg.toLowerCase()}-g${generation}-${randomBytes(4).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

export class KeyRing {
  #generations = [];

  #counter = 0;

  constructor() {
    this.rotate();
  }

  // Adds a new generation and makes it the signing one; older keys stay published.
  rotate() {
    this.#counter += 1;
    const keys = Object.fromEntries(ALGORITHMS.map((alg) => [alg, generate(alg, this.#counter)]));
    this.#generations.unshift(keys);
  }

  // Drops every generation but the current one from the JWKS.
  retire() {
    this.#generations.length = 1;
  }

  // The kid that signs tokens for `alg` now.
  currentKid(alg) {
    return this.#generations[0][alg].kid;
  }

  // Private JWKS for oidc-provider: current keys first, so they are picked for signing.
  privateJwks() {
    return { keys: this.#generations.flatMap((keys) => ALGORITHMS.map((alg) => structuredClone(keys[alg]))) };
  }

  describe() {
    return {
      current: Object.fromEntries(ALGORITHMS.map((alg) => [alg, this.currentKid(alg)])),
      published: this.#generations.flatMap((keys) => ALGORITHMS.map((alg) => keys[alg].kid)),
    };
  }
}
