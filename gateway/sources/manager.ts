/**
 * All camera pulls of one gateway, whatever protocol reaches them: a Source per configured or
 * API-added path, each with the driver its URL calls for. Serves on-demand paths to the hub (a
 * DemandHandler) and runs the always-on ones. Independent of the listeners: `rtsp.enabled: false`
 * turns the RTSP server off, not the camera pulls.
 */
import type { Logger } from 'pino';
import type { Admission } from '../core/admission.js';
import { ConfigError, PublisherConflictError, StreamNotFoundError } from '../core/errors.js';
import type { DemandHandler } from '../core/registry.js';
import { type PullDriver, Source, type SourceSettings, SourceUnavailableError } from './source.js';

/** A kind of pull (RTSP cameras today): validates a source's config and makes its driver. */
export interface PullKind<C extends { readonly url: string; readonly onDemand: boolean; readonly idleCloseMs?: number | undefined }> {
  /** URL schemes it serves, e.g. `rtsp:`. */
  readonly schemes: readonly string[];
  /** A source config from an API body; throws ConfigError saying what is wrong. */
  parse(body: unknown): C;
  driver(path: string, config: C): PullDriver;
  /** Supervision for a source of this kind (retry pacing, idle close). */
  settings(config: C): SourceSettings;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKind = PullKind<any>;

/**
 * Decides which gateway runs an always-on source (hot standby: cluster/lease.ts over Redis).
 * `acquired` and `lost` may be called any number of times, alternately.
 */
export interface SourceGate {
  watch(path: string, acquired: () => void, lost: () => void): void;
  unwatch(path: string): Promise<void>;
  /** True while this gateway may pull `path`. */
  holds(path: string): boolean;
  close(): Promise<void>;
}

export class SourceManager implements DemandHandler {
  private readonly sources = new Map<string, Source>();
  private started = false;

  constructor(
    private readonly kinds: readonly AnyKind[],
    private readonly admission: Admission,
    private readonly log: Logger,
    /** Without a gate every always-on source runs here. */
    private readonly gate?: SourceGate,
  ) {}

  canServe(path: string): boolean {
    return this.sources.has(path);
  }

  start(path: string, timeoutMs: number): Promise<void> {
    const source = this.sources.get(path);
    if (!source) return Promise.reject(new StreamNotFoundError(path));
    // A reader on the standby must not open a second connection to the camera.
    if (this.gate && !source.onDemand && !this.gate.holds(path)) return Promise.reject(new SourceUnavailableError(path, 'another gateway pulls it (hot standby); read it from the active one'));
    return source.start(timeoutMs);
  }

  get(path: string): Source | undefined {
    return this.sources.get(path);
  }

  list(): Source[] {
    return [...this.sources.values()];
  }

  /** Validates an API body for the kind its `url` names. */
  parse(body: Record<string, unknown>): unknown {
    return this.kindOf(typeof body.url === 'string' ? body.url : '').parse(body);
  }

  /** Adds a source; always-on sources start at once when the manager runs. */
  add(path: string, config: { readonly url: string; readonly onDemand: boolean }): Source {
    if (this.sources.has(path)) throw new PublisherConflictError(path, `a source for ${path} exists already; DELETE /api/v1/sources/${path} first`);
    const kind = this.kindOf(config.url);
    const source = new Source(path, kind.driver(path, config), kind.settings(config), this.admission, this.log);
    this.sources.set(path, source);
    if (this.started && !source.onDemand) this.runAlways(source);
    return source;
  }

  remove(path: string): boolean {
    const source = this.sources.get(path);
    if (!source) return false;
    this.sources.delete(path);
    void this.gate?.unwatch(path);
    source.stop('stopped', 'source removed');
    return true;
  }

  /** Starts the always-on sources (their failures are logged and retried by each source). */
  run(): void {
    this.started = true;
    for (const source of this.sources.values()) if (!source.onDemand) this.runAlways(source);
  }

  /** An always-on source runs at once, or while this gateway holds its lease. */
  private runAlways(source: Source): void {
    if (!this.gate) return source.begin();
    source.stop('standby', 'another gateway pulls it');
    this.gate.watch(
      source.path,
      () => source.begin(),
      () => source.stop('standby', 'another gateway holds the lease'),
    );
  }

  close(): void {
    this.started = false;
    for (const source of this.sources.values()) source.stop('stopped', 'gateway stopping');
  }

  /** Stops the sources and gives up their leases (the standby takes over on its next try). */
  async closeGate(): Promise<void> {
    await this.gate?.close();
  }

  private kindOf(url: string): AnyKind {
    const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase() ?? '';
    const kind = this.kinds.find((k) => k.schemes.includes(scheme));
    if (!kind) throw new ConfigError(`url: ${scheme ? `${scheme}// sources are not supported` : 'expected a URL'}; supported: ${this.kinds.flatMap((k) => k.schemes.map((s) => `${s}//`)).join(', ')}`);
    return kind;
  }
}
