import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Router } from 'express';
import express from 'express';
import type { StreamRegistry } from '../core/registry.js';

/**
 * Prometheus metrics for one gateway (its own prom-client Registry, so several gateways can live in
 * one process). Values are read from the hub's counters at scrape time: nothing is done per frame.
 * Per-path labels exist only for paths that exist; there are no per-reader labels.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly refusals: Counter<'protocol' | 'reason'>;

  constructor(hub: StreamRegistry) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'streamgate_' });

    new Gauge({
      name: 'streamgate_streams',
      help: 'Streams in the hub, by state',
      labelNames: ['state'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) this.inc({ state: s.state });
      },
    });
    new Gauge({
      name: 'streamgate_readers',
      help: 'Connected readers, by protocol',
      labelNames: ['protocol'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) for (const [protocol, n] of Object.entries(s.readersByProtocol())) this.inc({ protocol }, n);
      },
    });
    new Gauge({
      name: 'streamgate_stream_readers',
      help: 'Connected readers per stream path',
      labelNames: ['path'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) this.set({ path: s.path }, s.readers.size);
      },
    });
    new Counter({
      name: 'streamgate_publisher_bytes_total',
      help: 'Media payload bytes received from publishers, per stream path',
      labelNames: ['path'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) this.inc({ path: s.path }, s.bytesIn);
      },
    });
    new Counter({
      name: 'streamgate_publisher_frames_total',
      help: 'Frames received from publishers, per stream path and kind',
      labelNames: ['path', 'kind'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) {
          this.inc({ path: s.path, kind: 'video' }, s.videoFramesIn);
          this.inc({ path: s.path, kind: 'audio' }, s.audioFramesIn);
        }
      },
    });
    new Counter({
      name: 'streamgate_reader_bytes_total',
      help: 'Bytes written to readers (all protocols), per stream path',
      labelNames: ['path'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) this.inc({ path: s.path }, s.bytesOut);
      },
    });
    new Counter({
      name: 'streamgate_dropped_frames_total',
      help: 'Frames dropped for readers that fell behind, per stream path',
      labelNames: ['path'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) this.inc({ path: s.path }, s.droppedFrames);
      },
    });
    new Gauge({
      name: 'streamgate_reader_lag_max_ms',
      help: 'Largest queue lag of any reader of the stream, in ms of media',
      labelNames: ['path'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) {
          let max = 0;
          for (const reader of s.readerStats()) max = Math.max(max, reader.lagMs);
          this.set({ path: s.path }, max);
        }
      },
    });
    new Gauge({
      name: 'streamgate_stream_bitrate_kbps',
      help: 'Bitrate over the last second, per stream path and direction',
      labelNames: ['path', 'direction'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of hub.list()) {
          this.set({ path: s.path, direction: 'in' }, s.rate.inKbps);
          this.set({ path: s.path, direction: 'out' }, s.rate.outKbps);
        }
      },
    });
    this.refusals = new Counter({
      name: 'streamgate_refusals_total',
      help: 'Connections or requests refused, by protocol and reason',
      labelNames: ['protocol', 'reason'],
      registers: [r],
    });
  }

  /** RTSP camera pulls: state (one series per state, 1 for the current one) and reconnects. */
  addSources(list: () => readonly { path: string; state: string; reconnects: number }[]): void {
    const states = ['idle', 'connecting', 'running', 'retrying', 'stopped'];
    new Gauge({
      name: 'streamgate_source_state',
      help: 'RTSP camera pull state per path (1 for the current state)',
      labelNames: ['path', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of list()) for (const state of states) this.set({ path: s.path, state }, s.state === state ? 1 : 0);
      },
    });
    new Counter({
      name: 'streamgate_source_reconnects_total',
      help: 'RTSP camera pull reconnects per path',
      labelNames: ['path'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of list()) this.inc({ path: s.path }, s.reconnects);
      },
    });
  }

  /** Rooms: participants and messages per room. */
  addRooms(list: () => readonly { path: string; participants: number; messages: number }[]): void {
    new Gauge({
      name: 'streamgate_room_participants',
      help: 'Participants connected per room',
      labelNames: ['room'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of list()) this.set({ room: r.path }, r.participants);
      },
    });
    new Counter({
      name: 'streamgate_room_messages_total',
      help: 'Messages (chat and data) relayed per room since it opened',
      labelNames: ['room'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const r of list()) this.inc({ room: r.path }, r.messages);
      },
    });
  }

  /** Any other component's gauges: `collect` returns the current values with their labels. */
  addGauge(name: string, help: string, labelNames: string[], collect: () => readonly { labels: Record<string, string>; value: number }[]): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const v of collect()) this.set(v.labels, v.value);
      },
    });
  }

  /** Counts a refusal; `reason` must come from a small fixed set (an error code), never user input. */
  refused(protocol: string, reason: string): void {
    this.refusals.inc({ protocol, reason });
  }

  router(): Router {
    const router = express.Router();
    router.get('/metrics', async (_req, res, next) => {
      try {
        const body = await this.registry.metrics();
        res.setHeader('Content-Type', this.registry.contentType);
        res.send(body);
      } catch (error) {
        next(error);
      }
    });
    return router;
  }
}
