// Loopback OIDC identity provider for jwtkit integration tests.
//
// A real oidc-provider instance issuing JWT access tokens via client_credentials,
// plus a few /__admin test-control endpoints (key rotation, JWKS failures,
// request counters). See README.md for the contract used by the tests.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const USAGE = `usage: node idp.mjs [--port N] [--issuer URL] [--ttl SECONDS]
                    [--max-lifetime SECONDS] [--ignore-stdin] [--verbose]`;

function usageError(msg) {
  process.stderr.write(`idp: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      issuer: { type: 'string' },
      ttl: { type: 'string', default: '300' },
      'max-lifetime': { type: 'string', default: '600' },
      'ignore-stdin': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  usageError(err.message);
}
if (opts.help) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(0);
}

function intOpt(name, min) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < min) usageError(`--${name} must be an integer >= ${min}`);
  return n;
}
const PORT = intOpt('port', 0);
const TTL = intOpt('ttl', 1);
const MAX_LIFETIME = intOpt('max-lifetime', 1);

// stdout carries exactly one line (the ready line). oidc-provider prints its
// notices with console.info, i.e. to stdout, so route all console chatter to
// stderr, and drop it entirely unless --verbose (errors are always kept).
const toStderr = (...args) => process.stderr.write(`${args.join(' ')}\n`);
const quiet = () => {};
console.log = opts.verbose ? toStderr : quiet;
console.info = opts.verbose ? toStderr : quiet;
console.debug = opts.verbose ? toStderr : quiet;
console.warn = opts.verbose ? toStderr : quiet;
const log = opts.verbose ? (msg) => toStderr(`idp: ${msg}`) : quiet;

// Imported only now so that its import-time notices (oidc-provider 9 warns
// that Node 20 is not a supported LTS; it works) obey the redirection above.
const { default: Provider, errors } = await import('oidc-provider');

const RESOURCES = ['urn:jwtkit:api', 'urn:jwtkit:other'];
const DEFAULT_RESOURCE = RESOURCES[0];
const SCOPES = 'api:read api:write';
// One client per access-token signing algorithm: the client picks the alg.
const CLIENT_ALGS = { 'test-client': 'RS256', 'test-client-es': 'ES256' };
const CLIENT_SECRET = 'test-secret';
const JWKS_PATH = '/jwks';
const DISCOVERY_PATH = '/.well-known/openid-configuration';

// ---------------------------------------------------------------- keys --

let keyGeneration = 0;

// A fresh RS256 + ES256 signing pair. Kids carry a random suffix so that two
// idp runs never reuse a kid (verifier caches must not be fooled by that).
function generateKeys() {
  keyGeneration += 1;
  const tag = `${keyGeneration}-${crypto.randomBytes(4).toString('hex')}`;
  const jwk = (type, options) => crypto.generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return [
    { ...jwk('rsa', { modulusLength: 2048 }), kid: `rs256-${tag}`, alg: 'RS256', use: 'sig' },
    { ...jwk('ec', { namedCurve: 'P-256' }), kid: `es256-${tag}`, alg: 'ES256', use: 'sig' },
  ];
}

// Newest keys first; signing always uses the newest key of each alg.
let keys = generateKeys();
const currentKid = (alg) => keys.find((k) => k.alg === alg).kid;

// ------------------------------------------------------------ provider --

// oidc-provider fixes its keystore at construction, so rotation builds a new
// Provider and swaps it in. client_credentials JWTs are self-contained, so
// nothing is lost by dropping the old instance.
function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: Object.keys(CLIENT_ALGS).map((clientId) => ({
      client_id: clientId,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys },
    // Only used for interaction cookies, which client_credentials never sets;
    // a key just keeps oidc-provider from warning about the default.
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DEFAULT_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resource, client) {
          if (!RESOURCES.includes(resource)) {
            throw new errors.InvalidTarget(`allowed resources: ${RESOURCES.join(', ')}`);
          }
          const alg = CLIENT_ALGS[client.clientId];
          return {
            audience: resource,
            scope: SCOPES,
            accessTokenFormat: 'jwt',
            accessTokenTTL: TTL,
            jwt: { sign: { alg, kid: currentKid(alg) } },
          };
        },
      },
    },
    ttl: {
      AccessToken: TTL,
      ClientCredentials: TTL,
    },
  });
  // oidc-provider turns handler crashes into 500s and only emits them: log them.
  provider.on('server_error', (ctx, err) => toStderr(`idp: server_error: ${err?.stack || err}`));
  return provider.callback();
}

// -------------------------------------------------------- test control --

const state = {
  jwksStatus: 0, // 0 = normal service
  jwksDelayMs: 0,
  jwksCacheControl: null,
  jwksRequests: 0,
  discoveryRequests: 0,
};

const jwksSettings = () => ({
  status: state.jwksStatus,
  delay_ms: state.jwksDelayMs,
  cache_control: state.jwksCacheControl,
});

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  const body = JSON.parse(text);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new TypeError('body must be a JSON object');
  }
  return body;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const isStatus = (v) => Number.isInteger(v) && (v === 0 || (v >= 200 && v <= 599));
const isDelay = (v) => Number.isInteger(v) && v >= 0 && v <= 600_000;

const admin = {
  'POST /__admin/rotate': async (body) => {
    const fresh = generateKeys();
    keys = body.drop_old === true ? fresh : [...fresh, ...keys];
    handler = buildProvider(issuer);
    log(`rotated keys, jwks now ${keys.map((k) => k.kid).join(', ')}`);
    return {
      rs256_kid: fresh[0].kid,
      es256_kid: fresh[1].kid,
      kids: keys.map((k) => k.kid),
    };
  },
  'POST /__admin/jwks-status': async (body) => {
    if ('status' in body && !isStatus(body.status)) throw new TypeError('status must be 0 or an HTTP status 200-599');
    if ('delay_ms' in body && !isDelay(body.delay_ms)) throw new TypeError('delay_ms must be an integer 0-600000');
    if ('status' in body) state.jwksStatus = body.status === 200 ? 0 : body.status;
    if ('delay_ms' in body) state.jwksDelayMs = body.delay_ms;
    return jwksSettings();
  },
  'POST /__admin/jwks-cache-control': async (body) => {
    if (body.value !== null && typeof body.value !== 'string') throw new TypeError('value must be a string or null');
    state.jwksCacheControl = body.value || null;
    return jwksSettings();
  },
  'GET /__admin/stats': async () => ({
    jwks_requests: state.jwksRequests,
    discovery_requests: state.discoveryRequests,
  }),
};

// ---------------------------------------------------------------- http --

let issuer;
let handler;

async function route(req, res) {
  const { pathname } = new URL(req.url, 'http://127.0.0.1');

  if (pathname.startsWith('/__admin/')) {
    const action = admin[`${req.method} ${pathname}`];
    if (!action) return sendJson(res, 404, { error: 'unknown admin endpoint' });
    try {
      return sendJson(res, 200, await action(await readJson(req)));
    } catch (err) {
      return sendJson(res, 400, { error: err.message });
    }
  }

  if (pathname === DISCOVERY_PATH) state.discoveryRequests += 1;

  if (pathname === JWKS_PATH) {
    state.jwksRequests += 1;
    if (state.jwksDelayMs) await new Promise((r) => setTimeout(r, state.jwksDelayMs));
    if (state.jwksStatus) {
      return sendJson(res, state.jwksStatus, { error: 'injected jwks status' });
    }
    // oidc-provider sets no cache-control on the JWKS; one set here survives.
    if (state.jwksCacheControl) res.setHeader('cache-control', state.jwksCacheControl);
  }

  return handler(req, res);
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    toStderr(`idp: ${err?.stack || err}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});

// ------------------------------------------------------------ lifetime --

function shutdown(why) {
  log(`shutting down: ${why}`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
setTimeout(() => shutdown('max lifetime reached'), MAX_LIFETIME * 1000).unref();

// The parent test holds our stdin open; EOF means it finished or died.
if (!opts['ignore-stdin']) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

server.on('error', (err) => {
  toStderr(`idp: cannot listen: ${err.message}`);
  process.exit(1);
});

server.listen(PORT, '127.0.0.1', () => {
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  issuer = (opts.issuer ?? base).replaceAll('{port}', String(port));
  handler = buildProvider(issuer);
  // Endpoint URLs follow the request's host (oidc-provider builds them from
  // it), so they point at the loopback address even when --issuer differs.
  process.stdout.write(`${JSON.stringify({
    ready: true,
    port,
    issuer,
    jwks_uri: `${base}${JWKS_PATH}`,
    token_endpoint: `${base}/token`,
  })}\n`);
});
