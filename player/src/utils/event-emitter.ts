/**
 * A typed event emitter: `Events` maps each event name to its argument tuple. A listener that
 * throws does not break the emitter or the other listeners: the error is re-emitted as `error`
 * (when the map has one) instead.
 */
export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;
// Stored type-erased; `on`/`safeEmit` keep the per-event types at the boundary.
type AnyListener = (...args: unknown[]) => void;

export class TypedEmitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<AnyListener>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapped = ((...args: Events[K]) => {
      this.off(event, wrapped);
      listener(...args);
    }) as Listener<Events[K]>;
    return this.on(event, wrapped);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.listeners.get(event)?.delete(listener as unknown as AnyListener);
    return this;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }

  protected safeEmit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        if (event !== 'error' && this.listeners.get('error')?.size) {
          this.safeEmit('error' as K, ...([listenerError(event, error)] as unknown as Events[K]));
        } else {
          setTimeout(() => {
            throw error;
          });
        }
      }
    }
  }
}

function listenerError(event: PropertyKey, error: unknown): Error {
  const e = new Error(`a "${String(event)}" listener threw: ${error instanceof Error ? error.message : String(error)}`);
  (e as Error & { code: string }).code = 'SG_PLAYER_ERR_LISTENER';
  return e;
}
