/**
 * The admin console's "Transcode jobs" section: the ffmpeg rendition jobs of
 * `GET /api/v1/renditions` (transcode/api.ts) with state, speed, fps, CPU, restarts, last error
 * and the newest stderr lines. Hidden while the gateway does not serve that route (404).
 */
import type { AdminApi, RenditionJob } from '../api/admin.js';
import { el, ErrorLine, syncRows } from './admin-dom.js';

/** stderr lines shown per job (the gateway keeps a few more). */
const STDERR_LINES = 4;

type Cell = 'path' | 'source' | 'profile' | 'state' | 'speed' | 'fps' | 'cpu' | 'restarts' | 'lastError';

interface JobRow {
  rows: HTMLTableRowElement[];
  cells: Record<Cell, HTMLElement>;
  stderr: HTMLPreElement;
}

export class RenditionsSection {
  private readonly rows = new Map<string, JobRow>();
  private readonly tbody: HTMLElement;
  private readonly error: ErrorLine;

  constructor(
    private readonly api: AdminApi,
    private readonly section: HTMLElement,
  ) {
    this.tbody = section.querySelector('tbody')!;
    this.error = new ErrorLine(section.querySelector('.error')!);
  }

  private createRow(path: string): JobRow {
    const main = el('tr', 'job');
    main.dataset.path = path;
    const cells: Record<Cell, HTMLElement> = {
      path: el('td', 'path'),
      source: el('td', 'source'),
      profile: el('td', 'profile'),
      state: el('td', 'state'),
      speed: el('td', 'speed num'),
      fps: el('td', 'fps num'),
      cpu: el('td', 'cpu num'),
      restarts: el('td', 'restarts num'),
      lastError: el('td', 'last-error'),
    };
    main.append(...Object.values(cells));
    const logRow = el('tr', 'job-log');
    logRow.dataset.for = path;
    const cell = el('td');
    cell.colSpan = Object.keys(cells).length;
    const stderr = el('pre', 'stderr');
    cell.append(stderr);
    logRow.append(cell);
    return { rows: [main, logRow], cells, stderr };
  }

  private update(row: JobRow, j: RenditionJob): void {
    const c = row.cells;
    c.path.textContent = j.path;
    c.source.textContent = j.source;
    c.profile.textContent = j.profile;
    c.state.textContent = j.state;
    row.rows[0]!.dataset.state = j.state;
    c.speed.textContent = j.speed ? `${j.speed.toFixed(2)}×` : '—';
    c.speed.classList.toggle('bad', j.state === 'running' && j.speed > 0 && j.speed < 0.95);
    c.fps.textContent = j.fps ? String(Math.round(j.fps * 10) / 10) : '—';
    c.cpu.textContent = j.cpuPercent === null ? '—' : `${j.cpuPercent} %`;
    c.restarts.textContent = String(j.restarts);
    c.restarts.classList.toggle('bad', j.restarts > 0);
    c.lastError.textContent = j.lastError ?? '';
    const lines = j.stderr.slice(-STDERR_LINES).join('\n');
    if (row.stderr.textContent !== lines) row.stderr.textContent = lines;
    row.rows[1]!.hidden = lines === '';
  }

  async refresh(): Promise<void> {
    let jobs: RenditionJob[] | undefined;
    try {
      jobs = await this.api.renditions();
    } catch (error) {
      this.error.show(error);
      return;
    }
    this.error.show(undefined);
    this.section.hidden = jobs === undefined;
    if (!jobs) return;
    const byPath = new Map(jobs.map((j) => [j.path, j]));
    syncRows(this.tbody, this.rows, [...byPath.keys()].sort(), (path) => this.createRow(path));
    for (const [path, row] of this.rows) this.update(row, byPath.get(path)!);
    this.section.classList.toggle('is-empty', jobs.length === 0);
  }
}
