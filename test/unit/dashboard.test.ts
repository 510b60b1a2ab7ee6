import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Metrics } from '../../gateway/api/metrics.js';
import { StreamRegistry } from '../../gateway/core/registry.js';

describe('Grafana dashboard (config/grafana-dashboard.json)', () => {
  it('only queries metrics the gateway exports', async () => {
    const dash = JSON.parse(readFileSync('config/grafana-dashboard.json', 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const registry = new StreamRegistry(
      { maxBytes: 1, maxDurationMs: 1, maxReaderLagMs: 1, maxReaderQueueBytes: 1, readerStallTimeoutMs: 1, publisherGraceMs: 1, readyTimeoutMs: 1, takeoverPaths: [], writeMergeMs: 0 },
      pino({ level: 'silent' }),
    );
    const metrics = new Metrics(registry);
    metrics.addSources(() => []);
    metrics.addRooms(() => []);
    const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    registry.close();
    const used = dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(streamgate_[a-z_]+)/g)].map((m) => m[1]!)));
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) expect(exported, name).toContain(name.replace(/_(bucket|sum|count)$/, ''));
  });
});
