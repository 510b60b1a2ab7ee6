import { z } from 'zod';
import { pathPatternSchema } from '../schemas.js';

const count = z.number().int().min(1);
const ms = z.number().int().min(0);

/**
 * The `rooms` config section. Every field has a default; config/default.yaml carries the same
 * values, commented.
 */
export const roomsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Chat messages kept per room, replayed to joiners and served by GET .../messages. */
    historySize: z.number().int().min(0).max(100_000).default(100),
    /** Append every history message to {dataDir}/rooms/{room}.jsonl before relaying it. */
    persist: z.boolean().default(false),
    /** fsync after each append: survives a power cut, not only a process crash (slower). */
    fsync: z.boolean().default(false),
    /**
     * Largest client frame (text or binary) that is accepted; a larger one is refused with
     * SG_ERR_ROOM_MESSAGE_TOO_LARGE. Frames over 4x this close the connection (WebSocket 1009).
     */
    maxMessageBytes: z.number().int().min(256).max(16 * 1024 * 1024).default(16 * 1024),
    /** Token bucket per participant: sustained messages per second ... */
    ratePerSecond: z.number().positive().max(10_000).default(5),
    /** ... and the burst it allows. */
    rateBurst: count.max(100_000).default(10),
    /** Refused frames (rate, size, malformed) within refusalWindowMs before a disconnect. */
    maxRefusals: count.default(20),
    refusalWindowMs: ms.min(1).default(10_000),
    maxParticipants: count.default(1000),
    /** Rooms held in memory; empty rooms are evicted first (their history stays on disk). */
    maxRooms: count.default(1000),
    /** How long a kicked participant's name is refused in that room. */
    kickBanMs: ms.default(60_000),
    /** Display names: at most this many characters (control characters refused). */
    maxNameLength: count.max(256).default(64),
    /**
     * Who is host until access control exists. Names in hostNames are always hosts; then
     * 'names': nobody else; 'first': whoever joins a room that has no host; 'query': `?role=host`
     * (development only: anyone can claim it).
     */
    hostNames: z.array(z.string().min(1)).default([]),
    hostRule: z.enum(['names', 'first', 'query']).default('names'),
    /** A participant whose unsent bytes exceed this is disconnected (it cannot keep up). */
    maxBufferedBytes: z.number().int().min(64 * 1024).default(4 * 1024 * 1024),
    /** WebSocket ping period; a socket that missed one pong is terminated. 0 disables. */
    pingIntervalMs: ms.default(30_000),
    /** Largest file shared in a room (POST .../files); a larger one is refused with SG_ERR_ROOM_FILE_TOO_LARGE. */
    maxFileBytes: z.number().int().min(1).default(100 * 1024 * 1024),
    /** Files (complete or uploading) a room holds; one more is refused with SG_ERR_ROOM_FILE_LIMIT. */
    maxFilesPerRoom: count.default(100),
    /** An unfinished upload that received nothing for this long fails (file-failed) and is deleted. 0: never. */
    fileIdleTimeoutMs: ms.default(3_600_000),
    /**
     * Who may publish into a room's stream space (`{room}/{participant}`, e.g. room/42/alice):
     * 'open': whoever access control lets publish the path; 'granted': only a participant a host
     * gave the floor (grant), a credential that allows publishing the path (token, key, hook), or
     * a configured camera source. Either way a host's revoke cuts the participant's stream and
     * refuses it until granted again.
     */
    publish: z.enum(['open', 'granted']).default('open'),
    /** Live participant streams per room (renditions and mixes not counted); one more is refused with SG_ERR_ROOM_PUBLISHER_LIMIT. */
    maxPublishers: count.default(16),
    /**
     * ffmpeg audio filters applied to a participant's audio before it is mixed (`_mix`, `_grid`),
     * first matching entry wins: e.g. `{ paths: room/42/gate-cam, filter: "highpass=f=120,afftdn=nf=-25,dynaudnorm" }`
     * to take hum and hiss off a field camera's microphone and level it.
     */
    audioCleanup: z
      .array(z.strictObject({ paths: pathPatternSchema, filter: z.string().min(1).max(2000) }))
      .default([]),
  });

export type RoomsConfig = z.infer<typeof roomsConfigSchema>;
