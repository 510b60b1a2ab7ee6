/**
 * Starts node-media-server 4.4.3 (a dependency of ours) for the side-by-side benchmark:
 * node dist/test/bench/nms-server.js RTMP_PORT HTTP_PORT DATA_DIR
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server') as new (config: unknown) => { run(): void };

const [rtmpPort, httpPort, dataDir] = process.argv.slice(2);
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port: Number(rtmpPort) },
  http: { port: Number(httpPort) },
  store: { path: dataDir },
  auth: { play: false, publish: false, secret: '' },
});
nms.run();
