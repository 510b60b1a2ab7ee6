/**
 * The collapsible chat panel shown beside the player, the wall and the room view: who is in the
 * room (with presence count and raised hands), the chat with server timestamps and senders, a
 * message box, and "raise hand" for viewers (a data message to the hosts).
 *
 * Everything that comes from the network (names, text, error messages) is set with
 * textContent, never as HTML: a message containing markup shows the markup.
 */
import { RoomClient, type RoomClientOptions, type RoomConnectionState } from '../rooms/room-client.js';
import { isRaiseHand, RAISE_HAND, type ChatFrame, type DataFrame, type ParticipantEntry, type ParticipantRef } from '../rooms/types.js';

const CSS = `
.sgc{position:fixed;top:var(--sgc-top,0);right:0;bottom:0;width:var(--sgc-width,320px);display:flex;flex-direction:column;background:#161616;border-left:1px solid #333;color:#ddd;font:13px/1.4 system-ui,sans-serif;z-index:20}
.sgc[data-collapsed=true]{width:40px}
.sgc[data-collapsed=true] .sgc-body,.sgc[data-collapsed=true] .sgc-room{display:none}
.sgc-head{display:flex;align-items:center;gap:8px;height:36px;padding:0 8px;background:#1c1c1c;border-bottom:1px solid #333;white-space:nowrap;overflow:hidden}
.sgc[data-collapsed=true] .sgc-head{flex-direction:column;height:auto;padding:6px 2px;gap:6px}
.sgc-toggle{background:#2a2a2a;color:#ddd;border:1px solid #444;border-radius:4px;padding:2px 7px;cursor:pointer}
.sgc-room{font-weight:600;overflow:hidden;text-overflow:ellipsis}
.sgc-count{margin-left:auto;font-variant-numeric:tabular-nums;opacity:.85}
.sgc[data-collapsed=true] .sgc-count{margin:0}
.sgc-body{flex:1;display:flex;flex-direction:column;min-height:0}
.sgc-status{margin:0;padding:4px 8px;background:#333;font-size:12px}
.sgc-status[hidden]{display:none}
.sgc[data-state=unauthorized] .sgc-status,.sgc[data-state=refused] .sgc-status,.sgc-status.bad{background:#822;color:#fff}
.sgc-people{list-style:none;margin:0;padding:4px 8px;max-height:30%;overflow-y:auto;border-bottom:1px solid #2a2a2a}
.sgc-people li{display:flex;gap:6px;align-items:center}
.sgc-people li[data-self=true] .sgc-name::after{content:' (you)';opacity:.6}
.sgc-role{font-size:11px;padding:0 4px;border-radius:3px;background:#444}
.sgc-people li[data-role=host] .sgc-role{background:#1f5f8b}
.sgc-live{font-size:11px;padding:0 4px;border-radius:3px;background:#a11;color:#fff}
.sgc-tag{font-size:11px;opacity:.75}
.sgc-acts{margin-left:auto;display:flex;gap:3px}
.sgc-act{background:#2a2a2a;color:#ddd;border:1px solid #444;border-radius:3px;padding:0 4px;font-size:11px;cursor:pointer}
.sgc-hand{cursor:pointer;border:0;background:none;padding:0;font-size:14px}
.sgc-hand[hidden]{display:none}
.sgc-log{flex:1;list-style:none;margin:0;padding:6px 8px;overflow-y:auto;min-height:0}
.sgc-log li{margin:0 0 4px;overflow-wrap:anywhere;white-space:pre-wrap}
.sgc-log time{opacity:.5;font-size:11px;margin-right:6px;font-variant-numeric:tabular-nums}
.sgc-from{font-weight:600;margin-right:6px}
.sgc-msg[data-role=host] .sgc-from{color:#7fc7ff}
.sgc-msg[data-role=system] .sgc-from{color:#e0b040}
.sgc-event{opacity:.75;font-style:italic}
.sgc-hand-event{color:#ffd75e;font-style:normal;opacity:1}
.sgc-form{display:flex;gap:6px;padding:6px 8px;border-top:1px solid #2a2a2a}
.sgc-input{flex:1;min-width:0;background:#000;color:#ddd;border:1px solid #444;border-radius:4px;padding:4px 6px}
.sgc-form button,.sgc-raise-hand{background:#2a2a2a;color:#ddd;border:1px solid #444;border-radius:4px;padding:3px 8px;cursor:pointer}
.sgc-raise-hand{margin:0 8px 8px}
.sgc-raise-hand[hidden]{display:none}
`;

export function ensureChatStyles(doc: Document): void {
  if (doc.getElementById('streamgate-chat-styles')) return;
  const style = doc.createElement('style');
  style.id = 'streamgate-chat-styles';
  style.textContent = CSS;
  doc.head.appendChild(style);
}

export interface ChatPanelOptions extends Omit<RoomClientOptions, 'name'> {
  /** Display name; without one the panel asks for it before joining. */
  name?: string | undefined;
  /** Start collapsed. Default false. */
  collapsed?: boolean;
}

const STATUS_TEXT: Record<RoomConnectionState, string> = {
  connecting: 'connecting',
  joined: '',
  unauthorized: 'unauthorized',
  refused: 'refused',
  closed: 'left',
};

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, className: string, parent?: HTMLElement, text?: string): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  parent?.appendChild(e);
  return e;
}

function clock(ts: number): string {
  const d = new Date(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

export class ChatPanel {
  readonly root: HTMLElement;
  private client: RoomClient | undefined;
  private readonly doc: Document;
  private readonly count: HTMLSpanElement;
  private readonly status: HTMLParagraphElement;
  private readonly people: HTMLUListElement;
  private readonly log: HTMLOListElement;
  private readonly form: HTMLFormElement;
  private readonly input: HTMLInputElement;
  private readonly raiseHand: HTMLButtonElement;
  private readonly toggle: HTMLButtonElement;
  /** Participants whose raised hand this host has not dismissed. */
  private readonly hands = new Set<number>();
  private flashTimer: ReturnType<typeof setTimeout> | undefined;
  /** Called with the room connection once the panel joins (pages add talkback on top of it). */
  onClient: ((client: RoomClient) => void) | undefined;
  /** Called with the panel's width whenever it is collapsed or expanded (pages make room for it). */
  onResize: ((widthPx: number) => void) | undefined;

  constructor(
    host: HTMLElement,
    private readonly options: ChatPanelOptions,
  ) {
    this.doc = host.ownerDocument;
    ensureChatStyles(this.doc);
    const doc = this.doc;
    this.root = el(doc, 'aside', 'sgc', host);
    this.root.setAttribute('aria-label', 'Room chat');
    this.root.dataset.room = options.room;
    const head = el(doc, 'header', 'sgc-head', this.root);
    this.toggle = el(doc, 'button', 'sgc-toggle', head);
    this.toggle.type = 'button';
    this.toggle.addEventListener('click', () => this.setCollapsed(this.root.dataset.collapsed !== 'true'));
    el(doc, 'span', 'sgc-room', head, options.room);
    this.count = el(doc, 'span', 'sgc-count', head);
    this.count.title = 'participants in the room';

    const body = el(doc, 'div', 'sgc-body', this.root);
    this.status = el(doc, 'p', 'sgc-status', body);
    this.status.setAttribute('role', 'status');
    this.people = el(doc, 'ul', 'sgc-people', body);
    this.log = el(doc, 'ol', 'sgc-log', body);
    this.log.setAttribute('aria-live', 'polite');
    this.form = el(doc, 'form', 'sgc-form', body);
    this.input = el(doc, 'input', 'sgc-input', this.form);
    this.input.type = 'text';
    this.input.maxLength = 4000;
    this.input.autocomplete = 'off';
    const send = el(doc, 'button', '', this.form, 'Send');
    send.type = 'submit';
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.raiseHand = el(doc, 'button', 'sgc-raise-hand', body, '✋ Raise hand');
    this.raiseHand.type = 'button';
    this.raiseHand.hidden = true;
    this.raiseHand.addEventListener('click', () => this.sendRaiseHand());

    this.setCollapsed(options.collapsed ?? false);
    this.showCount(0);
    if (options.name) this.join(options.name);
    else this.askName();
  }

  /** The connection, once a name is known (for tests and embedders). */
  get room(): RoomClient | undefined {
    return this.client;
  }

  setCollapsed(collapsed: boolean): void {
    this.root.dataset.collapsed = String(collapsed);
    this.toggle.textContent = collapsed ? '«' : '»';
    this.toggle.title = collapsed ? 'Show the chat' : 'Hide the chat';
    this.toggle.setAttribute('aria-expanded', String(!collapsed));
    this.onResize?.(collapsed ? 40 : 320);
  }

  destroy(): void {
    this.client?.close();
    this.client = undefined;
    this.root.remove();
  }

  private askName(): void {
    this.showStatus('Pick a name to join the chat');
    this.input.placeholder = 'Your name';
    this.form.dataset.mode = 'name';
  }

  private submit(): void {
    const value = this.input.value.trim();
    if (!value) return;
    if (this.form.dataset.mode === 'name') {
      delete this.form.dataset.mode;
      this.input.value = '';
      this.join(value);
      return;
    }
    if (this.client?.sendChat(value)) this.input.value = '';
    else this.flash('not connected: the message was not sent', true);
  }

  private join(name: string): void {
    this.input.placeholder = 'Message';
    const client = new RoomClient({ server: this.options.server, room: this.options.room, name, token: this.options.token, role: this.options.role });
    this.client = client;
    this.onClient?.(client);
    client.on('state', ({ state, reason }) => {
      this.root.dataset.state = state;
      const title = STATUS_TEXT[state];
      if (state === 'joined') {
        this.showStatus('');
        const role = client.self?.role;
        this.root.dataset.role = role ?? '';
        this.raiseHand.hidden = role !== 'viewer';
      } else {
        this.showStatus(title ? `${title}: ${reason}` : reason);
      }
      this.input.disabled = state !== 'joined';
    });
    client.on('presence', ({ participants, count }) => this.showPeople(participants, count));
    client.on('chat', (m) => this.appendChat(m));
    client.on('data', (m) => this.onData(m));
    client.on('error', (e) => {
      if (client.state === 'joined') this.flash(e.message, true);
    });
    client.connect();
  }

  private showStatus(text: string): void {
    this.status.textContent = text;
    this.status.hidden = text === '';
    this.status.classList.remove('bad');
  }

  /** A passing notice (a refused message, a raised hand sent) that does not change the state. */
  private flash(text: string, bad = false): void {
    this.status.textContent = text;
    this.status.hidden = false;
    this.status.classList.toggle('bad', bad);
    if (this.flashTimer !== undefined) clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      if (this.client?.state === 'joined') this.showStatus('');
    }, 5000);
  }

  private showCount(count: number): void {
    this.count.dataset.count = String(count);
    this.count.textContent = `${count} online`;
  }

  private showPeople(participants: ParticipantEntry[], count: number): void {
    this.showCount(count);
    const me = this.client?.self?.id;
    const sorted = [...participants].sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'host' ? -1 : 1));
    for (const id of [...this.hands]) if (!participants.some((p) => p.id === id)) this.hands.delete(id);
    const items = sorted.map((p) => {
      const li = el(this.doc, 'li', '');
      li.dataset.id = String(p.id);
      li.dataset.role = p.role;
      if (p.id === me) li.dataset.self = 'true';
      el(this.doc, 'span', 'sgc-name', li, p.name);
      el(this.doc, 'span', 'sgc-role', li, p.role);
      if (p.muted) el(this.doc, 'span', 'sgc-muted', li, 'muted');
      if (p.live) el(this.doc, 'span', 'sgc-live', li, '● live');
      if (p.floor === 'granted') el(this.doc, 'span', 'sgc-tag sgc-floor', li, 'floor');
      if (p.audioMuted) el(this.doc, 'span', 'sgc-tag sgc-mic-off', li, 'mic off');
      if (this.client?.self?.role === 'host' && p.id !== me) this.hostActions(li, p);
      const hand = el(this.doc, 'button', 'sgc-hand', li, '✋');
      hand.type = 'button';
      hand.title = 'Raised a hand (click to dismiss)';
      hand.hidden = !this.hands.has(p.id);
      hand.addEventListener('click', () => {
        this.hands.delete(p.id);
        hand.hidden = true;
      });
      return li;
    });
    this.people.replaceChildren(...items);
  }

  /** A host's talkback buttons for one participant: floor, microphone, kick. */
  private hostActions(li: HTMLLIElement, p: ParticipantEntry): void {
    const client = this.client!;
    const acts = el(this.doc, 'span', 'sgc-acts', li);
    const button = (cls: string, text: string, title: string, action: () => boolean) => {
      const b = el(this.doc, 'button', `sgc-act ${cls}`, acts, text);
      b.type = 'button';
      b.title = title;
      b.addEventListener('click', () => {
        if (!action()) this.flash('not connected', true);
      });
    };
    const granted = p.floor === 'granted';
    button('sgc-act-floor', granted ? 'Take floor' : 'Give floor', granted ? `Stop ${p.name}'s camera and microphone` : `Let ${p.name} publish camera and microphone`, () => client.setFloor(p.id, !granted));
    button('sgc-act-mic', p.audioMuted ? 'Unmute mic' : 'Mute mic', p.audioMuted ? 'Back into the room mix' : 'Out of the room mix; their page mutes the microphone', () => client.muteAudio(p.id, !p.audioMuted));
    button('sgc-act-kick', 'Kick', `Remove ${p.name} from the room`, () => client.kick(p.id));
  }

  private appendEntry(li: HTMLLIElement): void {
    const log = this.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(li);
    // Bound the DOM for panels left open for days.
    while (log.childElementCount > 500) log.firstElementChild!.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  private entry(className: string, m: { id: number; ts: number; from: ParticipantRef }): HTMLLIElement {
    const li = el(this.doc, 'li', className);
    li.dataset.id = String(m.id);
    li.dataset.role = m.from.role;
    const time = el(this.doc, 'time', '', li, clock(m.ts));
    time.dateTime = new Date(m.ts).toISOString();
    time.dataset.ts = String(m.ts);
    return li;
  }

  private appendChat(m: ChatFrame): void {
    const li = this.entry('sgc-msg', m);
    el(this.doc, 'span', 'sgc-from', li, m.from.name);
    el(this.doc, 'span', 'sgc-text', li, m.text);
    this.appendEntry(li);
  }

  private onData(m: DataFrame): void {
    if (!isRaiseHand(m) || this.client?.self?.role !== 'host') return;
    this.hands.add(m.from.id);
    const li = this.entry('sgc-event sgc-hand-event', m);
    li.dataset.participant = String(m.from.id);
    el(this.doc, 'span', 'sgc-from', li, m.from.name);
    el(this.doc, 'span', 'sgc-text', li, 'raised a hand ✋');
    this.appendEntry(li);
    const hand = this.people.querySelector<HTMLButtonElement>(`li[data-id="${m.from.id}"] .sgc-hand`);
    if (hand) hand.hidden = false;
  }

  private sendRaiseHand(): void {
    if (!this.client?.sendData('host', RAISE_HAND)) {
      this.flash('not connected: the hand was not raised', true);
      return;
    }
    this.raiseHand.disabled = true;
    this.raiseHand.textContent = '✋ Hand raised';
    setTimeout(() => {
      this.raiseHand.disabled = false;
      this.raiseHand.textContent = '✋ Raise hand';
    }, 5000);
  }
}

/** Creates a chat panel in `el` (a fixed column on the right edge of the page) and joins the room. */
export function createChatPanel(host: HTMLElement, options: ChatPanelOptions): ChatPanel {
  return new ChatPanel(host, options);
}
