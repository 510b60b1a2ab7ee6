#!/usr/bin/env node
/**
 * CLI: node dist/gateway/main.js [--config FILE] [--bind ADDR] [--http-port N] [--rtmp-port N]
 * [--rtsp-port N] [--srt-port N] [--data-dir DIR] [--log-level L]
 */
import { parseArgs } from 'node:util';
import { type ConfigOverrides, loadConfig } from './config.js';
import { ConfigError } from './core/errors.js';
import { Gateway } from './gateway.js';
import { hashPasswordCommand, tokenCommand } from './auth/cli.js';

const USAGE = `usage: streamgate token --publish|--play|--room PATH | --admin [--ttl 1h] [--config FILE] [--host H]
       streamgate hash-password PASSWORD
       streamgate [--config FILE] [--bind ADDR] [--http-port N] [--rtmp-port N] [--rtsp-port N] [--srt-port N] [--data-dir DIR] [--log-level L]`;

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`--${name} must be a port number 0-65535, got ${JSON.stringify(value)}`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'token' || argv[0] === 'hash-password') {
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
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let gateway: Gateway;
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
    const config = loadConfig({ ...(values.config ? { file: values.config } : {}), overrides });
    gateway = new Gateway(config);
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
  process.on('SIGHUP', () => {
    try {
      gateway.reloadTls();
    } catch (error) {
      gateway.log.error({ err: error }, `TLS reload failed; keeping the current certificate: ${(error as Error).message}`);
    }
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main(process.argv.slice(2));
