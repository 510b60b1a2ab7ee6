import { EventEmitter } from 'node:events';

/**
 * An EventEmitter typed by an event map `{ name: [args] }`. `safeEmit` survives a throwing
 * listener: the error is re-emitted as `listenerError` instead of breaking the emitter's caller
 * (a protocol's per-frame path must never be unwound by an observer).
 */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> extends EventEmitter {
  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (error) {
      if (event !== 'listenerError' && this.listenerCount('listenerError') > 0) {
        super.emit('listenerError', error, event);
      }
      return false;
    }
  }
}
