/**
 * Talkback on the room page: "Go live" sends this participant's camera and microphone (echo
 * cancellation, noise suppression, gain control on) over WHIP into its stream of the room
 * (`room/42/alice`, from the welcome), with the `?grant=` key a host's grant sent. The button
 * follows the floor: enabled while the room is open or the floor granted; a revoke stops the
 * publish (the gateway cuts it too); a host's audio mute turns the microphone track off.
 */
import { streamUrls } from '../api/urls.js';
import { AUDIO_PROCESSING, WhipPublisher } from '../publish/whip-publisher.js';
import type { FloorInfo, RoomClient } from '../rooms/room-client.js';

declare global {
  interface Window {
    streamgateTalkback?: { publisher: () => WhipPublisher | undefined; floor: () => FloorInfo | undefined };
  }
}

const FLOOR_TEXT: Record<FloorInfo['floor'], string> = {
  granted: 'you have the floor',
  open: 'anyone may go live',
  none: 'ask a host for the floor (raise a hand)',
  revoked: 'a host took the floor back',
};

export function mountTalkback(client: RoomClient, button: HTMLButtonElement, state: HTMLElement, preview: HTMLVideoElement, token: string | undefined): void {
  let publisher: WhipPublisher | undefined;
  let media: MediaStream | undefined;
  let floor: FloorInfo | undefined;

  const may = () => floor !== undefined && (floor.floor === 'granted' || floor.floor === 'open');
  const show = (text: string, bad = false) => {
    state.textContent = text;
    state.classList.toggle('bad', bad);
  };
  const render = () => {
    button.hidden = floor === undefined;
    button.textContent = publisher ? 'Stop' : 'Go live';
    button.disabled = !publisher && !may();
    button.dataset.live = String(publisher !== undefined);
    if (!publisher && floor) show(FLOOR_TEXT[floor.floor] + (floor.reason ? ` (${floor.reason})` : ''), floor.floor === 'revoked');
  };
  const stop = (why?: string) => {
    publisher?.stop();
    publisher = undefined;
    media?.getTracks().forEach((t) => t.stop());
    media = undefined;
    preview.srcObject = null;
    preview.hidden = true;
    render();
    if (why) show(why, true);
  };
  const start = async () => {
    if (!floor || !may()) return;
    try {
      media = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 25 } }, audio: { ...AUDIO_PROCESSING } });
      for (const t of media.getAudioTracks()) t.enabled = !floor.audioMuted;
      preview.srcObject = media;
      preview.hidden = false;
      void preview.play().catch(() => undefined);
      const url = new URL(streamUrls(floor.stream, { server: location.origin, token }).whip);
      if (floor.grant) url.searchParams.set('grant', floor.grant);
      const p = new WhipPublisher({ url: url.toString(), token });
      publisher = p;
      render();
      show('connecting');
      p.on('state', (s) => {
        if (publisher !== p) return;
        if (s === 'connected') show('live');
        else if (s === 'failed' || s === 'closed') stop(`the live connection ended (${s})`);
        else show(s);
      });
      await p.start(media);
    } catch (error) {
      stop(error instanceof Error ? error.message : String(error));
    }
  };

  button.addEventListener('click', () => (publisher ? stop() : void start()));
  client.on('floor', (next) => {
    floor = next;
    if (media) for (const t of media.getAudioTracks()) t.enabled = !next.audioMuted;
    if (publisher && !may()) stop(FLOOR_TEXT[next.floor] + (next.reason ? ` (${next.reason})` : ''));
    else if (publisher && next.audioMuted) show('live · a host muted your microphone');
    else if (publisher) show('live');
    render();
  });
  floor = client.floor;
  render();
  window.streamgateTalkback = { publisher: () => publisher, floor: () => floor };
}
