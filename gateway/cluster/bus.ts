/**
 * The room bus over Redis pub/sub: one channel per room (`{prefix}room:{path}`), JSON events
 * (rooms/bus.ts says what they mean). Fire and forget: while Redis is away each node's rooms go
 * on with their own participants, and a room that reopens asks the others to announce theirs
 * (`sync`). History and persistence stay per node: each node stores the lines it relayed.
 */
import type { Logger } from 'pino';
import type { BusEvent, RoomBus } from '../rooms/bus.js';
import type { RedisLink } from './redis.js';

export class RedisRoomBus implements RoomBus {
  private readonly handlers = new Map<string, (event: BusEvent) => void>();
  private readonly onMessage = (channel: string, message: string) => {
    const handler = this.handlers.get(channel);
    if (!handler) return;
    let event: BusEvent;
    try {
      event = JSON.parse(message) as BusEvent;
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.t !== 'string' || typeof event.node !== 'string') return;
    try {
      handler(event);
    } catch (error) {
      this.log.error({ err: error, channel }, 'room bus: event handling failed');
    }
  };

  constructor(
    private readonly redis: RedisLink,
    private readonly nodeId: () => string,
    private readonly log: Logger,
  ) {
    redis.on('message', this.onMessage);
  }

  get node(): string {
    return this.nodeId();
  }

  private channel(room: string): string {
    return this.redis.key('room', room);
  }

  publish(room: string, event: BusEvent): void {
    void this.redis.publish(this.channel(room), JSON.stringify(event));
  }

  subscribe(room: string, handler: (event: BusEvent) => void): Promise<void> {
    const channel = this.channel(room);
    this.handlers.set(channel, handler);
    return this.redis.subscribe(channel);
  }

  unsubscribe(room: string): void {
    const channel = this.channel(room);
    this.handlers.delete(channel);
    void this.redis.unsubscribe(channel);
  }

  close(): void {
    this.redis.off('message', this.onMessage);
    this.handlers.clear();
  }
}
