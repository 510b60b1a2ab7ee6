/**
 * Streamgate player library (ES module, served at /player/lib/streamgate-player.js):
 *
 *   import { createPlayer } from 'http://gateway:8080/player/lib/streamgate-player.js';
 *   const player = createPlayer(document.getElementById('cam'), { stream: 'live/cam1', transport: 'ws', latency: 'low' });
 *   player.on('state', (e) => console.log(e.state, e.reason));
 *   player.on('stats', (s) => console.log(s.latencyMs));
 *   player.destroy();
 */
export { createPlayer, Player } from './player.js';
export { latencyPresets, mergeConfig, playerDefaultConfig, PlayerConfigError } from './config.js';
export type { LatencyMode, LatencyTuning, PlayerConfig, PlayerOptions, RetryConfig, Transport } from './config.js';
export { Events } from './types/player.js';
export type { EngineName, MediaInfo, PlayerError, PlayerEventMap, PlayerState, PlayerStats, PlayingVariant, StateChange, TransportStats } from './types/player.js';
export { browserCapabilities, chooseVariant, webrtcFit } from './variant.js';
export type { Capabilities, VariantChoice, VariantMode, WebRtcFit } from './variant.js';
export { WhipPublisher, WhipRefusedError } from './publish/whip-publisher.js';
export type { OutgoingStats, WhipPublisherEventMap, WhipPublisherOptions } from './publish/whip-publisher.js';
export { LatencyClock, stampFromScriptData } from './controller/latency-clock.js';
export type { LatencyStamp } from './controller/latency-clock.js';
export { streamUrls } from './api/urls.js';
export type { StreamUrls } from './api/urls.js';
export type { RenditionOffer, StreamEntry } from './api/types.js';
export { ChatPanel, createChatPanel } from './ui/chat-panel.js';
export type { ChatPanelOptions } from './ui/chat-panel.js';
export { RoomClient } from './rooms/room-client.js';
export type { RoomClientOptions, RoomConnectionState, RoomEventMap } from './rooms/room-client.js';
export type { ChatFrame, DataFrame, ParticipantEntry, ParticipantRef, ServerFrame } from './rooms/types.js';
export { roomUrls } from './api/urls.js';
export type { RoomUrls } from './api/urls.js';
