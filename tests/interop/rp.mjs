// A relying party built on panva's openid-client (not Authlib), driven step by step by
// tests/interop/test_openid_client.py: the Python side plays the browser, this script plays
// the RP's back end. Every protocol check is the library's own; nothing here re-implements one.
//
//   node rp.mjs start   stdin {"issuer", "client_id", "client_secret", "redirect_uri"}
//     → stdout {"url", "code_verifier", "state", "nonce"}
//   node rp.mjs finish  stdin {"issuer", "client_id", "client_secret", "callback_url",
//                              "code_verifier", "state", "nonce"}
//     → stdout {"claims", "userinfo", "tokens", "refreshed"}
//
// Input comes on stdin (the client secret stays out of the process list). Errors go to
// stderr as JSON with the library's error code, and the exit status is 1.

import * as client from 'openid-client'

const SCOPE = 'openid profile national_id'

// The live IdP listens on plain http://127.0.0.1 for the test; openid-client v6 refuses
// http:// by default and this documented option lifts only that restriction.
async function configuration ({ issuer, client_id: clientId, client_secret: clientSecret }) {
  return client.discovery(new URL(issuer), clientId, undefined,
    client.ClientSecretBasic(clientSecret), { execute: [client.allowInsecureRequests] })
}

async function start (input) {
  const config = await configuration(input)
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce
  })
  return { url: url.href, code_verifier: codeVerifier, state, nonce }
}

async function finish (input) {
  const config = await configuration(input)
  // Checks state, the RFC 9207 iss parameter (the IdP advertises it), exchanges the code
  // with the PKCE verifier, then validates the ID token: signature against the JWKS, iss,
  // aud, exp/iat, nonce, and at_hash.
  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier,
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true
  })
  const claims = tokens.claims()
  // Checks that the UserInfo sub is the ID token's.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  return {
    claims,
    userinfo,
    tokens: summary(tokens),
    refreshed: { ...summary(refreshed), claims: refreshed.claims() ?? null }
  }
}

function summary (tokens) {
  return {
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    expires_in: tokens.expiresIn() ?? null,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    has_id_token: Boolean(tokens.id_token)
  }
}

const commands = { start, finish }
const command = process.argv[2]
if (!(command in commands)) {
  console.error('usage: node rp.mjs start|finish < input.json')
  process.exit(2)
}
try {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  console.log(JSON.stringify(await commands[command](JSON.parse(Buffer.concat(chunks).toString()))))
} catch (error) {
  const detail = { name: error.name, code: error.code, message: error.message }
  if (error.cause !== undefined) detail.cause = error.cause
  console.error(JSON.stringify(detail))
  process.exit(1)
}
