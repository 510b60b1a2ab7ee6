/**
 * The admin console's "Sources" section: camera pulls (`/api/v1/sources`) with their state,
 * last error and packet counts; a form to add one and a remove button per source. The section
 * hides itself when the gateway has no RTSP server (the list answers 404).
 */
import type { AdminApi, NewSource, SourceInfo } from '../api/admin.js';
import { armedButton, el, ErrorLine, formatDuration, syncRows } from './admin-dom.js';

type Cell = 'path' | 'url' | 'state' | 'lastError' | 'transport' | 'onDemand' | 'connected' | 'reconnects' | 'readers' | 'packets';

interface SourceRow {
  rows: HTMLTableRowElement[];
  cells: Record<Cell, HTMLElement>;
  connectedSince: string | null;
}

export class SourcesSection {
  private readonly rows = new Map<string, SourceRow>();
  private readonly tbody: HTMLElement;
  private readonly error: ErrorLine;
  /** The error line shows a failed refresh (cleared by the next good one), not a failed action. */
  private showingListError = false;

  constructor(
    private readonly api: AdminApi,
    private readonly section: HTMLElement,
    private readonly flash: (message: string) => void,
  ) {
    this.tbody = section.querySelector('tbody')!;
    this.error = new ErrorLine(section.querySelector('.error')!);
    const form = section.querySelector('form')!;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.add(form);
    });
  }

  private async add(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const transport = String(data.get('transport') ?? '');
    const source: NewSource = {
      path: String(data.get('path') ?? '').trim(),
      url: String(data.get('url') ?? '').trim(),
      onDemand: data.get('onDemand') !== null,
      ...(transport === 'tcp' || transport === 'udp' ? { transport } : {}),
    };
    const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
    submit.disabled = true;
    try {
      const added = await this.api.addSource(source);
      this.error.show(undefined);
      this.showingListError = false;
      form.reset();
      this.flash(`Added source ${added.path}`);
      await this.refresh();
    } catch (error) {
      this.error.show(error);
      this.showingListError = false;
    } finally {
      submit.disabled = false;
    }
  }

  private async remove(path: string): Promise<void> {
    try {
      await this.api.removeSource(path);
      this.error.show(undefined);
      this.flash(`Removed source ${path}`);
    } catch (error) {
      this.error.show(error);
    }
    this.showingListError = false;
    await this.refresh();
  }

  private createRow(path: string): SourceRow {
    const tr = el('tr');
    tr.dataset.path = path;
    const cells: Record<Cell, HTMLElement> = {
      path: el('td', 'path'),
      url: el('td', 'url'),
      state: el('td', 'state'),
      lastError: el('td', 'last-error'),
      transport: el('td', 'transport'),
      onDemand: el('td', 'on-demand'),
      connected: el('td', 'connected num'),
      reconnects: el('td', 'reconnects num'),
      readers: el('td', 'readers num'),
      packets: el('td', 'packets num'),
    };
    const actions = el('td', 'actions');
    actions.append(armedButton('Remove', 'Confirm remove', 'remove', () => void this.remove(path)));
    tr.append(...Object.values(cells), actions);
    return { rows: [tr], cells, connectedSince: null };
  }

  private update(row: SourceRow, s: SourceInfo): void {
    const c = row.cells;
    c.path.textContent = s.path;
    c.url.textContent = s.url;
    c.state.textContent = s.state;
    row.rows[0]!.dataset.state = s.state;
    c.lastError.textContent = s.lastError ?? '';
    c.transport.textContent = s.transport.toUpperCase();
    c.onDemand.textContent = s.onDemand ? 'on demand' : 'always';
    row.connectedSince = s.connectedSince;
    c.reconnects.textContent = String(s.reconnects);
    c.readers.textContent = String(s.readers);
    c.packets.textContent = s.lostPackets ? `${s.packets} (${s.lostPackets} lost)` : String(s.packets);
    c.packets.classList.toggle('bad', s.lostPackets > 0);
  }

  /** The "connected for" column, from each row's `connectedSince` and the current time. */
  private tickConnected(): void {
    for (const row of this.rows.values()) {
      row.cells.connected.textContent = row.connectedSince ? formatDuration(Date.now() - Date.parse(row.connectedSince)) : '—';
    }
  }

  async refresh(): Promise<void> {
    let sources: SourceInfo[] | undefined;
    try {
      sources = await this.api.sources();
    } catch (error) {
      this.error.show(error);
      this.showingListError = true;
      return;
    }
    if (this.showingListError) this.error.show(undefined);
    this.showingListError = false;
    this.section.hidden = sources === undefined;
    if (!sources) return;
    const byPath = new Map(sources.map((s) => [s.path, s]));
    syncRows(this.tbody, this.rows, [...byPath.keys()].sort(), (path) => this.createRow(path));
    for (const [path, row] of this.rows) this.update(row, byPath.get(path)!);
    this.tickConnected();
    this.section.classList.toggle('is-empty', sources.length === 0);
  }
}
