// A test OpenID Connect provider for citybrain's OIDC sign-in tests (tests/identity/test_oidc.py):
// panva's certified oidc-provider (package.json, pinned in package-lock.json) with one confidential
// client, PKCE required for it, a fresh RSA signing key per run, its development login and consent
// forms, and three test accounts. Any password is accepted at the login form (development only).
//
//   node provider.mjs --port 4001 --redirect http://127.0.0.1:8000/api/v1/auth/oidc/callback \
//        [--client-id citybrain] [--client-secret ...]
//
// Prints one JSON line {"ready": true, "issuer": ...} once it listens; runs until killed.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    redirect: { type: 'string' },
    'client-id': { type: 'string', default: 'citybrain' },
    'client-secret': { type: 'string', default: 'citybrain-test-secret-0123456789abcdef' },
  },
});
if (!args.port || !args.redirect) {
  console.error('usage: node provider.mjs --port PORT --redirect CALLBACK_URL [--client-id ID] [--client-secret S]');
  process.exit(2);
}

// the IdP's people: the login name is the account id; preferred_username is what citybrain matches
const ACCOUNTS = {
  'kf.chen': { preferred_username: 'kf.chen', name: 'Chen Kaifeng', email: 'kf.chen@idp.test' },
  visitor: { preferred_username: 'visitor', name: 'A Visitor', email: 'visitor@idp.test' },
  'former.staff': { preferred_username: 'former.staff', name: 'Former Staff', email: 'former@idp.test' },
};

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const issuer = `http://127.0.0.1:${args.port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      redirect_uris: [args.redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true }, // every client, confidential ones included (S256 only)
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
  jwks: { keys: [{ ...signing, kid: randomUUID(), use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomUUID()] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});

provider.listen(Number(args.port), '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, issuer }));
});
