/**
 * The room bus: what one node tells the other nodes about a room so that participants connected
 * to different gateways share it. Declared here (rooms own the meaning); carried by
 * cluster/bus.ts over a Redis channel per room. Every event names its node; a node ignores its
 * own. Participants of other nodes get a local id on each node (ids stay per node, like message
 * ids: each node numbers and persists the chat lines it relays, in the order it received them).
 */
import type { ParticipantRef } from './protocol.js';

/** A participant as its own node numbers it. */
export interface RemoteRef extends ParticipantRef {
  readonly node: string;
}

export type BusTarget = 'all' | 'host' | { readonly node: string; readonly id: number };

export type BusEvent =
  /** Someone joined this room on another node: show them. Also the answer to `sync`. */
  | { readonly t: 'join'; readonly node: string; readonly p: ParticipantRef }
  | { readonly t: 'leave'; readonly node: string; readonly id: number; readonly reason: string }
  /** A node opened the room: every other node answers with `join` for its participants. */
  | { readonly t: 'sync'; readonly node: string }
  /** Sent every BUS_ALIVE_MS by a node with participants in the room: a silent node has crashed. */
  | { readonly t: 'alive'; readonly node: string }
  | { readonly t: 'chat'; readonly node: string; readonly from: ParticipantRef; readonly text: string; readonly ts: number }
  | { readonly t: 'data'; readonly node: string; readonly from: ParticipantRef; readonly to: BusTarget; readonly payload?: unknown; readonly binary?: string }
  /** Moderation is by name (as mute and bans are): each node applies it to its own participants. */
  | { readonly t: 'mute'; readonly node: string; readonly name: string; readonly muted: boolean; readonly by: ParticipantRef }
  | { readonly t: 'kick'; readonly node: string; readonly name: string; readonly banMs: number; readonly reason?: string; readonly by: ParticipantRef }
  | { readonly t: 'close'; readonly node: string; readonly reason: string; readonly by?: ParticipantRef }
  /** Talkback by stream name: a grant carries its key, so the participant may publish on any node. */
  | { readonly t: 'floor'; readonly node: string; readonly name: string; readonly granted: boolean; readonly key?: string; readonly reason?: string; readonly by: ParticipantRef }
  | { readonly t: 'amute'; readonly node: string; readonly name: string; readonly muted: boolean; readonly by: ParticipantRef };

/** How often a node with participants in a room says so. */
export const BUS_ALIVE_MS = 5000;
/** A node not heard from for this long in a room is gone: its participants leave (reason `node gone`). */
export const BUS_PEER_TIMEOUT_MS = 3 * BUS_ALIVE_MS;

/** What Rooms needs from a bus (cluster/bus.ts over Redis; absent on a single box). */
export interface RoomBus {
  /** This node's id, stamped on its events. */
  readonly node: string;
  publish(room: string, event: BusEvent): void;
  /** Starts delivering the room's events from other nodes to `handler`. */
  subscribe(room: string, handler: (event: BusEvent) => void): Promise<void>;
  unsubscribe(room: string): void;
}
