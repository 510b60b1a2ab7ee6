import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './core/errors.js';
import { pathPatternSchema as pathPattern } from './schemas.js';
import { rtspConfigSchema, sourcesConfigSchema } from './protocols/rtsp/config.js';
import { srtConfigSchema } from './protocols/srt/config.js';
import { webrtcConfigSchema } from './protocols/webrtc/config.js';
import { roomsConfigSchema } from './rooms/config.js';
import { hlsConfigSchema } from './protocols/hls/config.js';
import { recordConfigSchema } from './record/config.js';
import { authConfigSchema } from './auth/config.js';
import { transcodeConfigSchema } from '../transcode/config.js';
import { clusterConfigSchema } from './cluster/config.js';

const port = z.number().int().min(0).max(65535);
const ms = z.number().int().min(0);
const bytes = z.number().int().min(1024);

/** The one config schema. config/default.yaml holds the same defaults, commented (a test ties them). */
export const configSchema = z.strictObject({
  bind: z.string().min(1).default('0.0.0.0'),
  dataDir: z.string().min(1).default('./data'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      /** json: one JSON object per line; pretty: readable lines; auto: pretty on a terminal, else json. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  http: z
    .strictObject({
      port: port.default(8080),
      corsOrigin: z.string().min(1).default('*'),
      maxPathLength: z.number().int().min(64).max(8192).default(1024),
      /** A client must send its request headers within this (slowloris). */
      headersTimeoutMs: z.number().int().min(1000).default(10000),
    })
    .prefault({}),
  rtmp: z
    .strictObject({
      enabled: z.boolean().default(true),
      port: port.default(1935),
      outChunkSize: z.number().int().min(128).max(0xffffff).default(60000),
      maxChunkSize: z.number().int().min(128).max(0x7fffffff).default(16 * 1024 * 1024),
      maxMessageSize: bytes.max(0xffffff).default(8 * 1024 * 1024),
      handshakeTimeoutMs: ms.default(10000),
      idleTimeoutMs: ms.default(30000),
    })
    .prefault({}),
  rtsp: rtspConfigSchema.prefault({}),
  srt: srtConfigSchema.prefault({}),
  webrtc: webrtcConfigSchema.prefault({}),
  sources: sourcesConfigSchema,
  rooms: roomsConfigSchema.prefault({}),
  hls: hlsConfigSchema.prefault({}),
  auth: authConfigSchema.prefault({}),
  tls: z
    .strictObject({
      /** PEM files; with both set, the HTTPS/WSS and RTMPS listeners start. Reloaded on SIGHUP. */
      cert: z.string().optional(),
      key: z.string().optional(),
      httpsPort: port.default(8443),
      rtmpsPort: port.default(1936),
      /** Answer plain-HTTP page and API requests with a redirect to HTTPS (media URLs stay on HTTP). */
      redirectHttp: z.boolean().default(false),
    })
    .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'set both tls.cert and tls.key, or neither' })
    .prefault({}),
  record: recordConfigSchema.prefault({}),
  transcode: transcodeConfigSchema.prefault({}),
  cluster: clusterConfigSchema,
  hub: z
    .strictObject({
      gopCacheMaxBytes: bytes.default(32 * 1024 * 1024),
      gopCacheMaxDurationMs: ms.default(30000),
      maxReaderLagMs: ms.default(1000),
      maxReaderQueueBytes: bytes.default(8 * 1024 * 1024),
      readerStallTimeoutMs: ms.default(15000),
      publisherGraceMs: ms.default(5000),
      readyTimeoutMs: ms.default(5000),
      takeoverPaths: z.array(pathPattern).default([]),
      writeMergeMs: z.number().int().min(0).max(1000).default(0),
      holdAudioForVideo: z.boolean().default(false),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** Overrides from the command line (and the matching STREAMGATE_* environment variables). */
export interface ConfigOverrides {
  bind?: string;
  httpPort?: number;
  rtmpPort?: number;
  rtspPort?: number;
  srtPort?: number;
  webrtcPort?: number;
  dataDir?: string;
  logLevel?: string;
}

/** Validates a plain object into a Config; throws ConfigError naming every bad key. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => (issue.path.length ? `${issue.path.join('.')}.${k}` : k));
        return `unknown key ${keys.join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    });
    throw new ConfigError(`invalid ${source}: ${lines.join('; ')}`);
  }
  return result.data;
}

/** config/default.yaml of this package, whether we run from dist/ or from sources, whatever the cwd. */
export function defaultConfigPath(): string {
  // dist/gateway/config.js or gateway/config.ts -> <root>/config/default.yaml
  const here = dirname(fileURLToPath(import.meta.url));
  const root = basename(dirname(here)) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..');
  return resolve(root, 'config', 'default.yaml');
}

/** The file loadConfig reads without an explicit one: STREAMGATE_CONFIG, else the package's default. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.STREAMGATE_CONFIG ? resolve(env.STREAMGATE_CONFIG) : defaultConfigPath();
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
}

function envOverrides(env: NodeJS.ProcessEnv): ConfigOverrides {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const o: ConfigOverrides = {};
  if (env.STREAMGATE_BIND) o.bind = env.STREAMGATE_BIND;
  if (env.STREAMGATE_HTTP_PORT) o.httpPort = num(env.STREAMGATE_HTTP_PORT)!;
  if (env.STREAMGATE_RTMP_PORT) o.rtmpPort = num(env.STREAMGATE_RTMP_PORT)!;
  if (env.STREAMGATE_RTSP_PORT) o.rtspPort = num(env.STREAMGATE_RTSP_PORT)!;
  if (env.STREAMGATE_SRT_PORT) o.srtPort = num(env.STREAMGATE_SRT_PORT)!;
  if (env.STREAMGATE_WEBRTC_PORT) o.webrtcPort = num(env.STREAMGATE_WEBRTC_PORT)!;
  if (env.STREAMGATE_DATA_DIR) o.dataDir = env.STREAMGATE_DATA_DIR;
  if (env.STREAMGATE_LOG_LEVEL) o.logLevel = env.STREAMGATE_LOG_LEVEL;
  return o;
}

function applyOverrides(raw: Record<string, any>, o: ConfigOverrides): void {
  const section = (name: string) => (raw[name] ??= {});
  if (o.bind !== undefined) raw.bind = o.bind;
  if (o.dataDir !== undefined) raw.dataDir = o.dataDir;
  if (o.httpPort !== undefined) section('http').port = o.httpPort;
  if (o.rtmpPort !== undefined) section('rtmp').port = o.rtmpPort;
  if (o.rtspPort !== undefined) section('rtsp').port = o.rtspPort;
  if (o.srtPort !== undefined) section('srt').port = o.srtPort;
  if (o.webrtcPort !== undefined) section('webrtc').udpPort = o.webrtcPort;
  if (o.logLevel !== undefined) section('log').level = o.logLevel;
}

/** YAML file (or STREAMGATE_CONFIG, or the embedded default), then environment, then flags; validated once. */
export function loadConfig(options: { file?: string; overrides?: ConfigOverrides; env?: NodeJS.ProcessEnv } = {}): Config {
  const file = options.file ?? configPath(options.env ?? process.env);
  const raw = readConfigFile(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config file ${file} must be a YAML mapping`);
  }
  const merged = structuredClone(raw) as Record<string, any>;
  applyOverrides(merged, envOverrides(options.env ?? process.env));
  applyOverrides(merged, options.overrides ?? {});
  return parseConfig(merged, `config (${file})`);
}

/** Defaults for tests and embedders: the schema's defaults with a partial config on top. */
export function configWith(partial: Record<string, unknown> = {}): Config {
  return parseConfig(partial);
}
