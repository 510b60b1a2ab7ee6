/**
 * `streamgate token --publish|--play|--room|--admin PATH [--ttl 1h] [--config FILE] [--host H]`
 * prints a signed token and ready URLs; `streamgate hash-password PASSWORD` prints a scrypt hash
 * for auth.admin.users.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { validatePathPattern } from './core/path.js';
import { Authorizer } from './auth/authorizer.js';
import { hashPassword } from './auth/passwords.js';
import { type Action, createToken } from './auth/tokens.js';
import { parseTtl, tokenUrls } from './auth/urls.js';

export const TOKEN_HELP = `usage: streamgate token --publish PATH | --play PATH | --room PATH | --admin [options]

Prints a signed token for PATH (a stream path or pattern like live/* or cams/**) and the ready URLs
of every protocol carrying it. Signing keys come from auth.keys of the config.

  --publish PATH | --play PATH | --room PATH | --admin   what the token allows (exactly one)
  --ttl 1h           lifetime: 30s, 10m, 1h, 7d (default 1h)
  --config FILE      config to read auth.keys from; default: STREAMGATE_CONFIG, else config/default.yaml
                     of this package
  --host H           host name to put in the URLs (default: the config's bind address, or HOST)
  --kid ID           signing key id (default auth.activeKeyId)
  --json             print {token, action, path, urls} as JSON
  -h, --help         print this help and exit
`;

export const HASH_PASSWORD_HELP = `usage: streamgate hash-password PASSWORD

Prints the scrypt hash (salt:hash, hex) of PASSWORD for auth.admin.users[].scrypt in the config.
  -h, --help         print this help and exit
`;

export function tokenCommand(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      publish: { type: 'string' },
      play: { type: 'string' },
      room: { type: 'string' },
      admin: { type: 'boolean' },
      ttl: { type: 'string', default: '1h' },
      config: { type: 'string' },
      host: { type: 'string' },
      kid: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const chosen = (['publish', 'play', 'room', 'admin'] as const).filter((a) => values[a] !== undefined);
  if (chosen.length !== 1) throw new Error('give exactly one of --publish PATH, --play PATH, --room PATH, --admin');
  const action: Action = chosen[0]!;
  const pattern = action === 'admin' ? '**' : String(values[action]);
  if (action !== 'admin') validatePathPattern(pattern);
  const config = loadConfig(values.config ? { file: values.config } : {});
  const auth = new Authorizer(config.auth, pino({ level: 'silent' }));
  const kid = values.kid ?? config.auth.activeKeyId;
  if (Object.keys(auth.signingKeys).length === 0) {
    throw new Error('no signing key: set auth.keys in the config (config/secure.yaml reads STREAMGATE_SECRET)');
  }
  const token = createToken(auth.signingKeys, kid, action, pattern, parseTtl(values.ttl!));
  const host = values.host ?? (config.bind === '0.0.0.0' || config.bind === '::' ? 'HOST' : config.bind);
  const urls = tokenUrls({ http: config.http.port, rtmp: config.rtmp.port, rtsp: config.rtsp.port }, host, action, pattern, token);
  if (values.json) {
    out(JSON.stringify({ token, action, path: pattern, urls }));
    return;
  }
  out(token);
  for (const [k, v] of Object.entries(urls)) out(`${k.padEnd(13)} ${v}`);
}

export function hashPasswordCommand(argv: string[], out: (line: string) => void = (l) => process.stdout.write(l + '\n')): void {
  if (argv.length !== 1 || !argv[0]) throw new Error('usage: streamgate hash-password PASSWORD');
  out(hashPassword(argv[0]));
}
