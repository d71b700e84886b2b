// Live alarms: every ward's alarms that are not resolved, loaded once and kept
// current by one stream for the whole page (/alarms/stream, no ward filter:
// every ward's badge needs them).

import {get, query} from './api.js';
import {subscribe} from './sse.js';

const PAGE = 500;
const RETRY = 3000;

// An alarm only moves forward: open → acknowledged → resolved.
const RANK = {open: 0, acknowledged: 1, resolved: 2};

// later is whichever of two copies of one alarm is further along.
function later(a, b) {
  if (!a) return b;
  if (!b) return a;
  return RANK[b.state] >= RANK[a.state] ? b : a;
}

// AlarmBoard holds the alarms. onChange(opened) runs after every change, with
// the alarms that were not on the board before and are open, and after a
// list fails to load (error: it is asked for again a few seconds later);
// onState(state, err) follows the stream ('live', 'reconnecting', 'refused').
export class AlarmBoard {
  constructor({status, onChange, onState}) {
    this.status = status;
    this.onChange = onChange;
    this.onState = onState;
    this.alarms = new Map(); // id → alarm, resolved ones included until the next reload
    this.touched = null; // ids the stream changed while a reload is on its way
    this.loaded = false; // whether a list has arrived
    this.error = null; // why the last list did not load
    this.retry = null; // the timer of the next try after a failed list
    this.stopped = false;
    this.close = () => {};
  }

  // start opens the stream, and loads the list once it is connected, so
  // that no change falls between the two. A reconnect needs no new list: the
  // server replays what came after the last event id the stream gave.
  start() {
    this.close = subscribe('/api/v1/alarms/stream', {
      onEvent: (ev) => {
        if (ev.event === 'alarm') this.apply([JSON.parse(ev.data)]);
        else if (ev.event === 'reset') this.reload();
      },
      onState: (state, err) => {
        this.onState(state, err);
        if (state === 'live' && !this.loaded) this.reload();
      },
    });
  }

  stop() {
    this.close();
    clearTimeout(this.retry);
    this.retry = null;
    this.stopped = true;
  }

  // apply puts changed alarms on the board (those already further along win).
  apply(alarms) {
    const opened = [];
    for (const a of alarms) {
      const old = this.alarms.get(a.id);
      if (!old && a.state === 'open') opened.push(a);
      this.alarms.set(a.id, later(old, a));
      if (this.touched) this.touched.add(a.id);
    }
    this.onChange(opened);
  }

  // reload replaces the board with the list of open and acknowledged alarms.
  // What the stream changed meanwhile is kept where it is further along: the
  // list may have been read before those changes.
  async reload() {
    clearTimeout(this.retry);
    const touched = new Set();
    this.touched = touched;
    try {
      const list = [];
      let cursor = null;
      do {
        const {data} = await this.status.track('alarms', get(`/api/v1/alarms${query({state: 'open,acknowledged', limit: PAGE, cursor})}`));
        list.push(...data.alarms);
        cursor = data.next_cursor;
      } while (cursor);
      if (this.touched !== touched) return; // a newer reload is on its way
      const next = new Map(list.map((a) => [a.id, a]));
      for (const id of touched) next.set(id, later(next.get(id), this.alarms.get(id)));
      this.alarms = next;
      this.touched = null;
      this.loaded = true;
      this.error = null;
      this.onChange([]);
    } catch (err) {
      if (this.touched !== touched || this.stopped) return;
      this.touched = null;
      this.error = err;
      this.onChange([]);
      this.retry = setTimeout(() => this.reload(), RETRY);
    }
  }

  // forWard is the ward's open and acknowledged alarms: open ones first, then
  // the newest first.
  forWard(wardID) {
    return [...this.alarms.values()]
      .filter((a) => a.ward_id === wardID && a.state !== 'resolved')
      .sort((a, b) => RANK[a.state] - RANK[b.state] || Date.parse(b.opened_at) - Date.parse(a.opened_at) || b.id - a.id);
  }

  // counts is the number of alarms not resolved, by ward id.
  counts() {
    const n = new Map();
    for (const a of this.alarms.values()) {
      if (a.state !== 'resolved') n.set(a.ward_id, (n.get(a.ward_id) || 0) + 1);
    }
    return n;
  }
}

// ago says how long ago ts was: "just now", "3 min ago", "2 h ago", "4 d ago".
export function ago(ts, now = Date.now()) {
  const s = Math.max(0, (now - new Date(ts).getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.floor(s / 60))} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
