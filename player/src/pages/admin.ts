/**
 * /player/admin.html[?refresh=ms][&rtmpPort=N][&rtspPort=N][&token=...]
 * Every stream with its thumbnail (when the gateway serves snapshots), codecs, resolution,
 * bitrate in/out, readers per protocol, dropped frames, publisher and uptime; kick a publisher;
 * start/stop recording; copy the play URLs (RTMP/RTSP ports from `GET /api/v1/server` unless the
 * query names them). Below: camera pulls (admin-sources.ts), recordings (admin-recordings.ts) and
 * transcode jobs (admin-renditions.ts). Rows are updated in place so open URL panels, a playing
 * recording and focus survive a refresh.
 */
import '../ui/pages.css';
import { AdminApi } from '../api/admin.js';
import { kickPublisher, listStreams } from '../api/client.js';
import type { StreamEntry } from '../api/types.js';
import { streamUrls, type StreamUrls } from '../api/urls.js';
import { armedButton, button, el, formatDuration, syncRows } from './admin-dom.js';
import { RecordingsSection } from './admin-recordings.js';
import { RenditionsSection } from './admin-renditions.js';
import { SourcesSection } from './admin-sources.js';
import { numberParam, queryParams } from './query.js';

const q = queryParams();
const token = q.get('token') ?? undefined;
const refreshMs = Math.max(250, numberParam(q, 'refresh') ?? 1000);
/** Play URL ports: the query's, else the gateway's listeners (filled in by `loadPorts`), else the defaults. */
const ports = { rtmpPort: numberParam(q, 'rtmpPort') ?? 1935, rtspPort: numberParam(q, 'rtspPort') ?? 8554 };
const SNAPSHOT_EVERY_MS = 5000;
/** After a failed snapshot (none yet, or the decode timed out on a busy gateway): one request per stream per 10 s. */
const SNAPSHOT_RETRY_MS = 10_000;
/** Thumbnails are 120 px wide; twice that stays sharp on high-DPI screens. */
const SNAPSHOT_WIDTH = 240;

const tbody = document.getElementById('streams')!;
const summary = document.getElementById('summary')!;
const notice = document.getElementById('notice')!;
const streamPaths = document.getElementById('stream-paths')!;
const api = new AdminApi(location.origin, token);

interface Row {
  main: HTMLTableRowElement;
  urlsRow: HTMLTableRowElement;
  /** `main` and `urlsRow`, in page order (for syncRows). */
  rows: HTMLTableRowElement[];
  cells: Record<'path' | 'state' | 'publisher' | 'uptime' | 'video' | 'audio' | 'bitrate' | 'readers' | 'dropped', HTMLElement>;
  thumb: HTMLImageElement;
  record: HTMLButtonElement;
  nextSnapshotAt: number;
  since: string | undefined;
}

const rows = new Map<string, Row>();

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function flash(message: string, bad = false): void {
  notice.textContent = message;
  notice.classList.toggle('bad', bad);
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), bad ? 8000 : 4000);
}

async function copy(value: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    // Clipboard API needs a secure context; on plain http fall back to a selection copy.
    const area = document.createElement('textarea');
    area.value = value;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  flash('Copied');
}

const sources = new SourcesSection(api, document.getElementById('sources-section')!, (m) => flash(m));
const recordings = new RecordingsSection(api, document.getElementById('recordings-section')!, flash);
const renditions = new RenditionsSection(api, document.getElementById('renditions-section')!);

const URL_LABELS: [keyof StreamUrls, string][] = [
  ['flv', 'HTTP-FLV'],
  ['wsFlv', 'WS-FLV'],
  ['hls', 'HLS'],
  ['whep', 'WHEP (WebRTC play)'],
  ['whip', 'WHIP (WebRTC publish)'],
  ['rtsp', 'RTSP'],
  ['rtmp', 'RTMP'],
  ['player', 'Player'],
  ['embed', 'Embed'],
];

function createRow(path: string): Row {
  const main = document.createElement('tr');
  main.dataset.path = path;
  const thumbCell = document.createElement('td');
  thumbCell.className = 'thumb';
  const thumb = document.createElement('img');
  thumb.alt = '';
  thumb.hidden = true;
  thumbCell.appendChild(thumb);
  const urlsRow = document.createElement('tr');
  const row: Row = {
    main,
    urlsRow,
    rows: [main, urlsRow],
    thumb,
    record: button('Record', 'record', (b) => {
      b.disabled = true;
      void recordings.toggle(path).finally(() => {
        b.disabled = false;
        updateRecordButton(row);
      });
    }),
    nextSnapshotAt: 0,
    since: undefined,
    cells: {
      path: el('td', 'path'),
      state: el('td', 'state'),
      publisher: el('td', 'publisher'),
      uptime: el('td', 'uptime num'),
      video: el('td', 'video'),
      audio: el('td', 'audio'),
      bitrate: el('td', 'bitrate num'),
      readers: el('td', 'readers'),
      dropped: el('td', 'dropped num'),
    },
  };
  thumb.addEventListener('load', () => {
    thumb.hidden = false;
    row.nextSnapshotAt = Date.now() + SNAPSHOT_EVERY_MS;
  });
  thumb.addEventListener('error', () => {
    // No snapshot (transcode disabled, no ffmpeg, no keyframe yet): hide the thumbnail, ask again later.
    thumb.hidden = true;
    row.nextSnapshotAt = Date.now() + SNAPSHOT_RETRY_MS;
  });

  const urls = streamUrls(path, { server: location.origin, token, ...ports });
  const actions = document.createElement('td');
  actions.className = 'actions';
  const play = document.createElement('a');
  play.href = urls.player;
  play.target = '_blank';
  play.rel = 'noopener';
  play.textContent = 'Play';
  const toggle = button('URLs', 'urls-toggle', () => (row.urlsRow.hidden = !row.urlsRow.hidden));
  const kick = armedButton('Kick', 'Confirm kick', 'kick', () => {
    kickPublisher(location.origin, path, token).then(
      () => {
        flash(`Kicked the publisher of ${path}`);
        void refresh();
      },
      (error: unknown) => flash(error instanceof Error ? error.message : String(error), true),
    );
  });
  actions.append(play, toggle, row.record, kick);
  main.append(thumbCell, ...Object.values(row.cells), actions);

  row.urlsRow.className = 'urls';
  row.urlsRow.hidden = true;
  const cell = document.createElement('td');
  cell.colSpan = 11;
  const list = document.createElement('dl');
  for (const [key, label] of URL_LABELS) {
    const dt = el('dt', '', label);
    const dd = document.createElement('dd');
    const input = document.createElement('input');
    input.readOnly = true;
    input.value = (key === 'rtmp' && !ports.rtmpPort) || (key === 'rtsp' && !ports.rtspPort) ? `${label} is not enabled on this gateway` : urls[key];
    input.dataset.kind = key;
    input.addEventListener('focus', () => input.select());
    dd.append(input, button('Copy', 'copy', () => void copy(input.value)));
    list.append(dt, dd);
  }
  cell.appendChild(list);
  row.urlsRow.appendChild(cell);
  return row;
}

function updateRecordButton(row: Row): void {
  const state = recordings.stateOf(row.main.dataset.path!);
  row.record.dataset.recording = state;
  row.main.dataset.recording = state;
  row.record.textContent = state === 'idle' ? 'Record' : 'Stop recording';
  row.record.title = state === 'waiting' ? 'Recording starts at the next keyframe or when the stream is published again' : '';
}

function updateRow(row: Row, s: StreamEntry): void {
  const c = row.cells;
  c.path.textContent = s.path;
  c.state.textContent = s.publisher ? (s.ready ? 'live' : 'starting') : s.state === 'waiting' ? 'waiting for publisher' : s.state;
  row.main.dataset.state = s.publisher ? 'live' : 'offline';
  c.publisher.textContent = s.publisher ? `${s.publisher.protocol.toUpperCase()} ${s.publisher.remoteAddress}` : '—';
  row.since = s.publisher?.since;
  c.video.textContent = s.video ? `${s.video.codec} ${s.video.width}×${s.video.height} @ ${Math.round(s.video.fps * 10) / 10}` : '—';
  c.audio.textContent = s.audio ? `${s.audio.codec} ${s.audio.sampleRate / 1000} kHz ${s.audio.channels === 1 ? 'mono' : s.audio.channels === 2 ? 'stereo' : `${s.audio.channels} ch`}` : '—';
  c.audio.title = s.audio?.note ?? '';
  c.bitrate.textContent = `${Math.round(s.bitrateKbps.in)} / ${Math.round(s.bitrateKbps.out)}`;
  const per = Object.entries(s.readers)
    .filter(([k, n]) => k !== 'count' && n > 0)
    .map(([k, n]) => `${k} ${n}`);
  c.readers.textContent = `${s.readers.count}${per.length ? ` (${per.join(', ')})` : ''}`;
  c.dropped.textContent = String(s.droppedFrames);
  c.dropped.classList.toggle('bad', s.droppedFrames > 0);
  updateRecordButton(row);
}

function tickUptimes(): void {
  for (const row of rows.values()) row.cells.uptime.textContent = row.since ? formatDuration(Date.now() - Date.parse(row.since)) : '—';
}

function refreshThumbnails(): void {
  const now = Date.now();
  for (const [path, row] of rows) {
    if (now < row.nextSnapshotAt) continue;
    row.nextSnapshotAt = now + SNAPSHOT_RETRY_MS; // until load/error says otherwise
    row.thumb.src = `${streamUrls(path, { server: location.origin, token }).snapshot}${token ? '&' : '?'}width=${SNAPSHOT_WIDTH}&t=${now}`;
  }
}

let refreshing = false;
async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    const [streams] = await Promise.all([listStreams(location.origin, token), recordings.refreshSessions()]);
    const byPath = new Map(streams.map((s) => [s.path, s]));
    const paths = [...byPath.keys()].sort();
    syncRows(tbody, rows, paths, createRow);
    let readers = 0;
    let inKbps = 0;
    let outKbps = 0;
    for (const [path, row] of rows) {
      const s = byPath.get(path)!;
      updateRow(row, s);
      readers += s.readers.count;
      inKbps += s.bitrateKbps.in;
      outKbps += s.bitrateKbps.out;
    }
    document.body.classList.toggle('no-streams', streams.length === 0);
    if (streamPaths.childElementCount !== paths.length || paths.some((p, i) => (streamPaths.children[i] as HTMLOptionElement).value !== p)) {
      streamPaths.replaceChildren(...paths.map((p) => Object.assign(document.createElement('option'), { value: p })));
    }
    summary.textContent = `${streams.length} stream${streams.length === 1 ? '' : 's'} · ${readers} reader${readers === 1 ? '' : 's'} · in ${Math.round(inKbps)} kb/s · out ${Math.round(outKbps)} kb/s`;
    summary.classList.remove('bad');
    tickUptimes();
    refreshThumbnails();
  } catch (error) {
    summary.textContent = `Cannot reach the API: ${error instanceof Error ? error.message : String(error)}`;
    summary.classList.add('bad');
  } finally {
    refreshing = false;
  }
}

/** The gateway's RTMP/RTSP ports for the play URLs, unless the query names them (a proxy in between). */
async function loadPorts(): Promise<void> {
  try {
    const { ports: server } = await api.serverInfo();
    if (!q.has('rtmpPort')) ports.rtmpPort = server.rtmp ?? 0;
    if (!q.has('rtspPort')) ports.rtspPort = server.rtsp ?? 0;
  } catch {
    /* an older gateway: keep the defaults */
  }
}

let ticking = false;
async function tick(): Promise<void> {
  if (ticking) return;
  ticking = true;
  try {
    await Promise.all([refresh(), sources.refresh(), renditions.refresh()]);
  } finally {
    ticking = false;
  }
}

const wallLink = document.getElementById('wall-link') as HTMLAnchorElement;
wallLink.href = `wall.html?all=1${token ? `&token=${encodeURIComponent(token)}` : ''}`;
// The ports first: a row's URL panel is built once, with its first appearance.
void loadPorts().then(() => {
  void tick();
  void recordings.refreshList();
  setInterval(() => void tick(), refreshMs);
});
