/**
 * The admin console's "Recordings" section: the files of `GET /api/v1/recordings` filtered by
 * path and time, each with a play button (an inline `<video controls>`: the files are fMP4) and a
 * download link; and the recording state of each live stream for the record buttons in the
 * streams table (`POST/DELETE /api/v1/streams/{app}/{name}/record`).
 */
import type { AdminApi, RecordingEntry, RecordingStatus } from '../api/admin.js';
import { button, el, ErrorLine, errorText, formatBytes, formatDuration, formatTime, syncRows } from './admin-dom.js';

/** The list is re-read this often (and right after a start, stop or filter change). */
const LIST_EVERY_MS = 5000;
/** More rows than this slow the page down; the filter narrows the list. */
const MAX_ROWS = 500;

type Cell = 'path' | 'start' | 'duration' | 'size' | 'codecs' | 'status';

interface RecordingRow {
  rows: HTMLTableRowElement[];
  cells: Record<Cell, HTMLElement>;
  download: HTMLAnchorElement;
  entry: RecordingEntry;
}

export class RecordingsSection {
  private readonly rows = new Map<string, RecordingRow>();
  private readonly tbody: HTMLElement;
  private readonly error: ErrorLine;
  private readonly filterForm: HTMLFormElement;
  private readonly note: HTMLElement;
  private readonly viewer: HTMLElement;
  private readonly video: HTMLVideoElement;
  private readonly viewerTitle: HTMLElement;
  /** Recording state per stream path, from the last `refreshSessions()`. */
  private sessions = new Map<string, RecordingStatus>();
  private listTimer: ReturnType<typeof setTimeout> | undefined;
  private listing = false;

  constructor(
    private readonly api: AdminApi,
    section: HTMLElement,
    private readonly flash: (message: string, bad?: boolean) => void,
  ) {
    this.tbody = section.querySelector('tbody')!;
    this.error = new ErrorLine(section.querySelector('.error')!);
    this.note = section.querySelector('.list-note')!;
    this.filterForm = section.querySelector('form.filter')!;
    this.filterForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.refreshList();
    });
    this.filterForm.addEventListener('change', () => void this.refreshList());
    this.viewer = section.querySelector('.viewer')!;
    this.video = this.viewer.querySelector('video')!;
    this.viewerTitle = this.viewer.querySelector('.viewer-title')!;
    this.viewer.querySelector('button.close')!.addEventListener('click', () => this.closeViewer());
    this.video.addEventListener('error', () => {
      const e = this.video.error;
      // e.g. H.265 files, which Chromium without a hardware decoder cannot play: the download still works.
      if (e && !this.viewer.hidden) this.flash(`the browser cannot play this recording: ${e.message || `media error ${e.code}`}`, true);
    });
  }

  /** The recording state of `path`: 'recording', 'waiting' (for a publisher or a keyframe) or 'idle'. */
  stateOf(path: string): 'recording' | 'waiting' | 'idle' {
    const s = this.sessions.get(path);
    if (!s) return 'idle';
    if (s.state === 'recording') return 'recording';
    return s.manual || s.state === 'waiting' ? 'waiting' : 'idle';
  }

  /** Starts or stops recording `path`; resolves with its new state. */
  async toggle(path: string): Promise<void> {
    try {
      if (this.stateOf(path) === 'idle') {
        const status = await this.api.startRecording(path);
        this.sessions.set(path, status);
        this.flash(status.state === 'recording' ? `Recording ${path}` : `${path} will be recorded from its next keyframe`);
      } else {
        await this.api.stopRecording(path);
        this.sessions.delete(path);
        this.flash(`Stopped recording ${path}`);
      }
    } catch (error) {
      this.flash(errorText(error), true);
    }
    await this.refreshSessions();
    void this.refreshList();
    // The file is closed (its last fragment written) a moment after the stop answers.
    setTimeout(() => void this.refreshList(), 1500);
  }

  /** Reads the recording state of every stream (the files of the last minute come along, unused). */
  async refreshSessions(): Promise<void> {
    try {
      const { sessions } = await this.api.recordings({ from: String(Date.now() - 60_000) });
      this.sessions = new Map(sessions.map((s) => [s.path, s]));
    } catch {
      /* the streams summary says the API is unreachable */
    }
  }

  private filter(): { path?: string; from?: string; to?: string } {
    const data = new FormData(this.filterForm);
    const time = (name: string): string | undefined => {
      const v = String(data.get(name) ?? '');
      const t = v ? new Date(v).getTime() : NaN; // datetime-local: the browser's time zone
      return Number.isNaN(t) ? undefined : String(t);
    };
    const path = String(data.get('path') ?? '').trim();
    const from = time('from');
    const to = time('to');
    return { ...(path ? { path } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) };
  }

  /** Re-reads the list now and every LIST_EVERY_MS after. */
  async refreshList(): Promise<void> {
    clearTimeout(this.listTimer);
    this.listTimer = setTimeout(() => void this.refreshList(), LIST_EVERY_MS);
    if (this.listing) return;
    this.listing = true;
    try {
      const { recordings } = await this.api.recordings(this.filter());
      this.error.show(undefined);
      const newest = recordings.slice(-MAX_ROWS).reverse();
      this.note.textContent = recordings.length > MAX_ROWS ? `Showing the newest ${MAX_ROWS} of ${recordings.length}; filter by path or time.` : '';
      const byId = new Map(newest.map((r) => [r.id, r]));
      syncRows(this.tbody, this.rows, [...byId.keys()], (id) => this.createRow(byId.get(id)!));
      for (const [id, row] of this.rows) this.update(row, byId.get(id)!);
      this.tbody.closest('section')!.classList.toggle('is-empty', recordings.length === 0);
    } catch (error) {
      this.error.show(error);
    } finally {
      this.listing = false;
    }
  }

  private createRow(entry: RecordingEntry): RecordingRow {
    const tr = el('tr');
    tr.dataset.id = entry.id;
    tr.dataset.path = entry.path;
    const cells: Record<Cell, HTMLElement> = {
      path: el('td', 'path'),
      start: el('td', 'start'),
      duration: el('td', 'duration num'),
      size: el('td', 'size num'),
      codecs: el('td', 'codecs'),
      status: el('td', 'status'),
    };
    const row: RecordingRow = { rows: [tr], cells, download: el('a', 'download', 'Download'), entry };
    const actions = el('td', 'actions');
    actions.append(
      button('Play', 'play', () => this.play(row.entry)),
      row.download,
    );
    tr.append(...Object.values(cells), actions);
    return row;
  }

  private update(row: RecordingRow, r: RecordingEntry): void {
    row.entry = r;
    const c = row.cells;
    c.path.textContent = r.path;
    c.start.textContent = formatTime(r.start);
    c.start.title = `${r.start} – ${r.end}`;
    c.duration.textContent = formatDuration(r.durationMs);
    c.size.textContent = formatBytes(r.size);
    c.codecs.textContent = r.codecs.join(', ');
    c.status.textContent = r.recording ? 'recording' : 'complete';
    row.rows[0]!.dataset.recording = String(r.recording);
    const href = this.api.url(r.url);
    if (row.download.href !== href) row.download.href = href;
    row.download.download = r.id.split('/').pop() ?? 'recording.mp4';
  }

  private play(r: RecordingEntry): void {
    this.viewer.hidden = false;
    this.viewer.dataset.id = r.id;
    this.viewerTitle.textContent = `${r.path} · ${formatTime(r.start)} · ${formatDuration(r.durationMs)}`;
    this.video.src = this.api.url(r.url);
    this.video.play().catch((error: unknown) => {
      // Autoplay may be refused; the controls still work. Anything else is worth showing.
      if (!(error instanceof DOMException && error.name === 'NotAllowedError')) this.flash(`cannot play ${r.id}: ${errorText(error)}`, true);
    });
    this.viewer.scrollIntoView({ block: 'nearest' });
  }

  private closeViewer(): void {
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.load();
    this.viewer.hidden = true;
    delete this.viewer.dataset.id;
  }
}
