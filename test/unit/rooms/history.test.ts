import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { History, HistoryFile, historyFileName } from '../../../gateway/rooms/history.js';
import type { ChatMessage } from '../../../gateway/rooms/protocol.js';
import { memoryLogger } from '../../helpers/gateway.js';

const chat = (id: number): ChatMessage => ({ type: 'chat', id, from: { id: 1, name: 'a', role: 'viewer' }, text: `m${id}`, ts: id });
const entry = (id: number) => ({ message: chat(id), json: JSON.stringify(chat(id)) });
const line = (id: number) => `${JSON.stringify(chat(id))}\n`;

describe('History', () => {
  it('keeps the newest entries and lists them after an id, with a limit', () => {
    const h = new History(3);
    for (let i = 1; i <= 5; i++) h.add(entry(i));
    expect(h.list().map((e) => e.message.id)).toEqual([3, 4, 5]);
    expect(h.list(3).map((e) => e.message.id)).toEqual([4, 5]);
    expect(h.list(0, 1).map((e) => e.message.id)).toEqual([5]);
    expect(JSON.parse(h.jsonArray())).toEqual([chat(3), chat(4), chat(5)]);
  });

  it('matches a plain array model across many wrap-arounds, with gaps in the ids', () => {
    for (const size of [1, 2, 7, 50]) {
      const h = new History(size);
      const model: number[] = [];
      let id = 0;
      for (let n = 0; n < 400; n++) {
        id += 1 + (n % 3); // ids grow with gaps, as when data messages take ids but stay out of history
        h.add(entry(id));
        model.push(id);
        if (model.length > size) model.shift();
        expect(h.size).toBe(model.length);
        const after = model[Math.floor(model.length / 2)]! - 1;
        const limit = 1 + (n % (size + 1));
        expect(h.list(after, limit).map((e) => e.message.id)).toEqual(model.filter((i) => i > after).slice(-limit));
        expect(h.list(id).length).toBe(0);
      }
      expect(h.list().map((e) => e.message.id)).toEqual(model);
      expect(JSON.parse(h.jsonArray()).map((m: ChatMessage) => m.id)).toEqual(model);
    }
  });

  it('jsonArray(maxBytes) keeps the newest messages that fit, oldest first', () => {
    const h = new History(100);
    for (let i = 1; i <= 100; i++) h.add(entry(i));
    const one = entry(100).json.length + 1;
    const ids = (json: string) => (JSON.parse(json) as ChatMessage[]).map((m) => m.id);
    expect(ids(h.jsonArray(2 + one * 3))).toEqual([98, 99, 100]);
    expect(ids(h.jsonArray(10))).toEqual([]);
    expect(ids(h.jsonArray()).length).toBe(100);
    expect(Buffer.byteLength(h.jsonArray(5000))).toBeLessThanOrEqual(5000);
  });

  it('keeps nothing with a size of 0', () => {
    const h = new History(0);
    h.add(entry(1));
    expect(h.size).toBe(0);
    expect(h.jsonArray()).toBe('[]');
  });
});

describe('HistoryFile', () => {
  let dir: string;
  const { log, lines: logs } = memoryLogger();
  const open = (limit = 10) => HistoryFile.open(dir, 'live/cam1', limit, false, log);
  const path = () => join(dir, historyFileName('live/cam1'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-history-'));
    logs.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names files reversibly, one flat directory', () => {
    expect(historyFileName('room/42')).toBe('room%2F42.jsonl');
  });

  it('starts empty and appends lines that load back', () => {
    const { file, loaded } = open();
    expect(loaded).toEqual({ entries: [], lastId: 0 });
    file.append(JSON.stringify(chat(1)));
    file.append(JSON.stringify(chat(2)));
    file.close();
    const again = open();
    expect(again.loaded.entries.map((e) => e.message)).toEqual([chat(1), chat(2)]);
    expect(again.loaded.lastId).toBe(2);
    again.file.close();
  });

  it('loads only the newest `limit` messages but continues ids after the last one', () => {
    writeFileSync(path(), [1, 2, 3, 4, 5].map(line).join(''));
    const { file, loaded } = open(2);
    expect(loaded.entries.map((e) => e.message.id)).toEqual([4, 5]);
    expect(loaded.lastId).toBe(5);
    file.close();
  });

  it('skips a truncated last line with a warning and cuts it off the file', () => {
    writeFileSync(path(), line(1) + line(2) + '{"type":"chat","id":3,"te');
    const { file, loaded } = open();
    expect(loaded.entries.map((e) => e.message.id)).toEqual([1, 2]);
    expect(logs.some((l) => l.level === 40 && String(l.msg).includes('truncated last line'))).toBe(true);
    file.append(JSON.stringify(chat(3)));
    file.close();
    expect(readFileSync(path(), 'utf8')).toBe(line(1) + line(2) + line(3));
  });

  it('keeps a complete last message that only lost its newline', () => {
    writeFileSync(path(), line(1) + JSON.stringify(chat(2)));
    const { file, loaded } = open();
    expect(loaded.lastId).toBe(2);
    file.append(JSON.stringify(chat(3)));
    file.close();
    expect(readFileSync(path(), 'utf8')).toBe(line(1) + line(2) + line(3));
  });

  it('skips an unreadable line in the middle with a warning', () => {
    writeFileSync(path(), line(1) + 'garbage\n' + line(3));
    const { file, loaded } = open();
    expect(loaded.entries.map((e) => e.message.id)).toEqual([1, 3]);
    expect(logs.some((l) => String(l.msg).includes('unreadable line') && l.line === 2)).toBe(true);
    file.close();
  });
});
