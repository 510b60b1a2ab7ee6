/**
 * /player/publish.html?stream=app/name[&token=...]
 * Publishes the browser's camera and microphone to the gateway over WHIP: device pickers, a
 * local preview, start/stop, the connection state and what goes out (bitrate from outbound-rtp
 * bytesSent deltas, resolution, fps). A refused POST shows the gateway's error message.
 */
import '../ui/pages.css';
import { streamUrls } from '../api/urls.js';
import { AUDIO_PROCESSING, WhipPublisher, type OutgoingStats } from '../publish/whip-publisher.js';
import { queryParams } from './query.js';

declare global {
  interface Window {
    /** The page's publisher while publishing (for the console and the e2e tests). */
    streamgatePublisher?: WhipPublisher;
  }
}

const STREAM_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
/** Voice from a field laptop: the browser's own clean-up on, as a phone call would have it. */

const q = queryParams();
const stream = q.get('stream') ?? '';
const token = q.get('token') ?? undefined;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const preview = $<HTMLVideoElement>('preview');
const cameraSelect = $<HTMLSelectElement>('camera');
const micSelect = $<HTMLSelectElement>('microphone');
const startButton = $<HTMLButtonElement>('start');
const stopButton = $<HTMLButtonElement>('stop');
const errorLine = $<HTMLParagraphElement>('publish-error');
const connState = $<HTMLElement>('conn-state');
const bitrate = $<HTMLElement>('bitrate');
const picture = $<HTMLElement>('picture');
const codecs = $<HTMLElement>('codecs');
const rtt = $<HTMLElement>('rtt');

let media: MediaStream | undefined;
let publisher: WhipPublisher | undefined;

function showError(message: string | undefined): void {
  errorLine.hidden = !message;
  errorLine.textContent = message ?? '';
}

function showState(state: string, text = state): void {
  connState.dataset.state = state;
  connState.textContent = text;
}

function showStats(s: OutgoingStats | undefined): void {
  bitrate.dataset.kbps = s ? String(Math.round(s.kbps)) : '0';
  bitrate.textContent = s ? `${Math.round(s.kbps)} kb/s` : '—';
  picture.textContent = s?.width && s.height ? `${s.width}×${s.height}${s.fps !== undefined ? ` @ ${Math.round(s.fps)} fps` : ''}` : '—';
  codecs.textContent = s && (s.videoCodec || s.audioCodec) ? [s.videoCodec, s.audioCodec].filter(Boolean).join(' + ') : '—';
  rtt.textContent = s?.rttMs !== undefined ? `${Math.round(s.rttMs)} ms` : '—';
}

/** The camera and microphone picked (or the defaults), with the voice clean-up on. */
async function acquire(): Promise<void> {
  const camera = cameraSelect.value;
  const mic = micSelect.value;
  const next = await navigator.mediaDevices.getUserMedia({
    video: { ...(camera ? { deviceId: { exact: camera } } : {}), width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 25 } },
    audio: { ...(mic ? { deviceId: { exact: mic } } : {}), ...AUDIO_PROCESSING },
  });
  const previous = media;
  media = next;
  preview.srcObject = next;
  void preview.play().catch(() => undefined);
  if (publisher) for (const track of next.getTracks()) await publisher.replaceTrack(track);
  previous?.getTracks().forEach((t) => t.stop());
  await listDevices();
}

/** Device labels are only readable once a permission was granted, so this runs after getUserMedia. */
async function listDevices(): Promise<void> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select: HTMLSelectElement, kind: MediaDeviceKind, current: string | undefined) => {
    const list = devices.filter((d) => d.kind === kind);
    select.replaceChildren(
      ...list.map((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}`;
        return o;
      }),
    );
    if (current) select.value = current;
    select.disabled = list.length === 0;
  };
  fill(cameraSelect, 'videoinput', media?.getVideoTracks()[0]?.getSettings().deviceId);
  fill(micSelect, 'audioinput', media?.getAudioTracks()[0]?.getSettings().deviceId);
}

async function start(): Promise<void> {
  showError(undefined);
  startButton.disabled = true;
  try {
    if (!media) await acquire();
    const p = new WhipPublisher({ url: streamUrls(stream, { server: location.origin, token }).whip, token });
    publisher = p;
    window.streamgatePublisher = p;
    p.on('state', (state) => {
      if (publisher !== p) return;
      showState(state, state === 'closed' ? 'not publishing' : state);
      if (state === 'failed') showError('the WebRTC connection failed (ICE): check that the gateway\'s UDP port is reachable');
    });
    p.on('stats', (s) => publisher === p && showStats(s));
    showState('connecting', 'sending the offer…');
    stopButton.disabled = false;
    await p.start(media!);
  } catch (error) {
    stop();
    showError(error instanceof Error ? error.message : String(error));
  }
}

function stop(): void {
  const p = publisher;
  publisher = undefined;
  delete window.streamgatePublisher;
  p?.stop();
  showState('closed', 'not publishing');
  showStats(undefined);
  startButton.disabled = !STREAM_PATH.test(stream);
  stopButton.disabled = true;
}

$<HTMLElement>('publish-path').textContent = stream;
document.title = stream ? `Publish ${stream} · Streamgate` : 'Streamgate publish';
if (STREAM_PATH.test(stream)) {
  const watch = `${streamUrls(stream, { server: location.origin, token }).player}&transport=webrtc`;
  $<HTMLAnchorElement>('watch-link').href = watch;
  $<HTMLAnchorElement>('player-link').href = watch;
} else {
  startButton.disabled = true;
  showError(`add ?stream=app/name to the URL (letters, digits, _ . -), e.g. publish.html?stream=live/laptop1${stream ? `; got "${stream}"` : ''}`);
}
startButton.addEventListener('click', () => void start());
stopButton.addEventListener('click', () => stop());
const onDevice = () => void acquire().catch((error: unknown) => showError(`cannot open the device: ${error instanceof Error ? error.message : String(error)}`));
cameraSelect.addEventListener('change', onDevice);
micSelect.addEventListener('change', onDevice);

if (!navigator.mediaDevices?.getUserMedia) {
  startButton.disabled = true;
  showError('this browser gives no camera access here: open the page over HTTPS (or on localhost)');
} else if (typeof RTCPeerConnection !== 'function') {
  startButton.disabled = true;
  showError('this browser has no WebRTC (RTCPeerConnection)');
} else {
  onDevice();
}
