#!/usr/bin/env node
/**
 * CLI: node dist/gateway/main.js [--config FILE] [--bind ADDR] [--http-port N] [--rtmp-port N]
 * [--rtsp-port N] [--srt-port N] [--webrtc-port N] [--data-dir DIR] [--log-level L]
 */
import { parseArgs } from 'node:util';
import { type ConfigOverrides, configPath, loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';
import { Gateway } from './gateway.js';
import cluster from 'node:cluster';
import { createLogger } from './log.js';
import { WorkerPool, workerCount, workerIdentity } from './cluster/workers.js';
import { HASH_PASSWORD_HELP, TOKEN_HELP, hashPasswordCommand, tokenCommand } from './cli.js';

const USAGE = `usage: streamgate [--config FILE] [--bind ADDR] [--http-port N] [--rtmp-port N] [--rtsp-port N] [--srt-port N] [--webrtc-port N]
                  [--data-dir DIR] [--log-level L]
       streamgate token --publish PATH | --play PATH | --room PATH | --admin [--ttl 1h] [--config FILE] [--host H]
       streamgate hash-password PASSWORD
       streamgate --help | token --help | hash-password --help`;

const HELP = `Streamgate: low-latency RTMP/RTSP streaming gateway (RTMP/RTSP/SRT in; HTTP-FLV, WS-FLV, HLS, RTMP, RTSP out).

${USAGE}

Options (each overrides the config file; the environment variable in brackets overrides the file too):
  --config FILE      YAML config [STREAMGATE_CONFIG]; default: config/default.yaml of this package
  --bind ADDR        address every listener binds to [STREAMGATE_BIND]
  --http-port N      HTTP port: FLV, WS-FLV, HLS, API, player, /healthz, /metrics [STREAMGATE_HTTP_PORT]
  --rtmp-port N      RTMP port [STREAMGATE_RTMP_PORT]
  --rtsp-port N      RTSP port [STREAMGATE_RTSP_PORT]
  --srt-port N       SRT port (UDP) [STREAMGATE_SRT_PORT]
  --webrtc-port N    WebRTC ICE UDP mux port; 0: a port per session [STREAMGATE_WEBRTC_PORT]
  --data-dir DIR     recordings, room history and other state [STREAMGATE_DATA_DIR]
  --log-level L      trace|debug|info|warn|error|fatal|silent [STREAMGATE_LOG_LEVEL]
  -h, --help         print this help and exit
Port 0 picks a free port; the log says which.

Signals: SIGINT/SIGTERM stop; SIGHUP re-reads the config file and applies log.level, auth and the
TLS certificate live (the log names every other changed setting as needing a restart).
`;

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${name} must be a port number 0-65535, got ${JSON.stringify(value)}`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'token' || argv[0] === 'hash-password') {
    if (argv[1] === '--help' || argv[1] === '-h' || (argv[0] === 'token' && argv.slice(1).some((a) => a === '--help' || a === '-h'))) {
      process.stdout.write(argv[0] === 'token' ? TOKEN_HELP : HASH_PASSWORD_HELP);
      return;
    }
    try {
      if (argv[0] === 'token') tokenCommand(argv.slice(1));
      else hashPasswordCommand(argv.slice(1));
    } catch (error) {
      process.stderr.write(`streamgate ${argv[0]}: ${(error as Error).message}\n`);
      process.exit(2);
    }
    return;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        bind: { type: 'string' },
        'http-port': { type: 'string' },
        'rtmp-port': { type: 'string' },
        'rtsp-port': { type: 'string' },
        'srt-port': { type: 'string' },
        'webrtc-port': { type: 'string' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  let gateway: Gateway;
  let configOptions: Parameters<typeof loadConfig>[0];
  try {
    const overrides: ConfigOverrides = {};
    if (values.bind !== undefined) overrides.bind = values.bind;
    if (values['data-dir'] !== undefined) overrides.dataDir = values['data-dir'];
    if (values['log-level'] !== undefined) overrides.logLevel = values['log-level'];
    const httpPort = portFlag('http-port', values['http-port']);
    const rtmpPort = portFlag('rtmp-port', values['rtmp-port']);
    const rtspPort = portFlag('rtsp-port', values['rtsp-port']);
    if (httpPort !== undefined) overrides.httpPort = httpPort;
    if (rtmpPort !== undefined) overrides.rtmpPort = rtmpPort;
    if (rtspPort !== undefined) overrides.rtspPort = rtspPort;
    const srtPort = portFlag('srt-port', values['srt-port']);
    if (srtPort !== undefined) overrides.srtPort = srtPort;
    const webrtcPort = portFlag('webrtc-port', values['webrtc-port']);
    if (webrtcPort !== undefined) overrides.webrtcPort = webrtcPort;
    // The file is resolved once, so a reload reads the same one even if the cwd or env changed.
    configOptions = { file: values.config ?? configPath(), overrides };
    let config = loadConfig(configOptions);
    const workers = workerCount(config.cluster.workers);
    if (workers > 1 && cluster.isPrimary) {
      runPrimary(workers, config.cluster.relaySecret, createLogger(config.log.level, undefined, config.log.format));
      return;
    }
    const worker = workerIdentity();
    // UDP sockets cannot be shared between workers (node:cluster would hand every worker the same
    // one): SRT and the RTSP server's UDP pair stay with worker 0; RTSP on the others is TCP only
    // (a client asking for UDP there is answered 461 and falls back to TCP interleaved).
    if (worker && worker.index > 0) config = { ...config, srt: { ...config.srt, enabled: false }, rtsp: { ...config.rtsp, udp: false } };
    gateway = new Gateway(config, worker ? { worker } : {});
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`streamgate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  try {
    await gateway.start();
  } catch (error) {
    gateway.log.fatal({ err: error }, `cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    gateway.stop().then(
      () => {
        gateway.log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        gateway.log.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  // systemctl reload / docker kill -s HUP: re-read the same file with the same flags and apply what
  // can change live (Gateway.reload logs the rest as needing a restart).
  process.on('SIGHUP', () => {
    let next;
    try {
      next = loadConfig(configOptions);
    } catch (error) {
      gateway.log.error({ err: error }, `reload: ${(error as Error).message}; keeping the running config`);
      return;
    }
    gateway.reload(next);
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** The primary of `cluster.workers`: forks the workers and stops them on SIGINT/SIGTERM. */
function runPrimary(count: number, relaySecret: string, log: ReturnType<typeof createLogger>): void {
  const pool = new WorkerPool(count, relaySecret, log.child({ component: 'workers' }));
  log.info({ workers: count }, `starting ${count} worker processes sharing the listeners`);
  pool.start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the workers');
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    void pool.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // SIGHUP: each worker reloads its own config.
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
}

void main(process.argv.slice(2));
