// Server-sent event streams read with fetch, not EventSource: EventSource
// cannot send the bearer token that the alarm stream needs.

import {send, answer, ApiError} from './api.js';

const FIRST_DELAY = 1000;
const MAX_DELAY = 10000;

// subscribe reads the event stream at path and calls onEvent({id, event,
// data}) for each event, onState('live' | 'reconnecting' | 'refused', err)
// as the connection comes and goes. When the stream ends or fails it
// reconnects, after a pause that grows from 1 s to 10 s, sending the last id
// it saw as Last-Event-ID so that the server replays what was missed. A
// refusal (401, 403) is final: the view starts a new stream when the token
// changes. It returns the function that closes the stream.
export function subscribe(path, {onEvent, onState = () => {}}) {
  const stop = new AbortController();
  let lastId = '';
  (async () => {
    let delay = FIRST_DELAY;
    while (!stop.signal.aborted) {
      try {
        const headers = {Accept: 'text/event-stream'};
        if (lastId) headers['Last-Event-ID'] = lastId;
        const resp = await send('GET', path, {headers, signal: stop.signal});
        if (!resp.ok) await answer(resp);
        onState('live');
        delay = FIRST_DELAY;
        for await (const ev of events(resp.body)) {
          if (ev.id) lastId = ev.id;
          onEvent(ev);
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onState('refused', err);
          return;
        }
      }
      if (stop.signal.aborted) return;
      onState('reconnecting');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, {once: true});
      });
      delay = Math.min(delay * 1.5, MAX_DELAY);
    }
  })();
  return () => stop.abort();
}

// events parses a text/event-stream body: `field: value` lines, comment
// lines that start with a colon, and a blank line that ends an event. Unlike
// EventSource it also yields an event without data lines when it has a name
// (a bare `event: reset`) or an id (canopy starts a stream with the id it
// starts after, for the client to send back when it reconnects).
// Closing the stream aborts its fetch, which ends the body's reader too.
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ev = {id: '', event: 'message', data: []};
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value;
    // The last piece is a line still being received; a \r at the very end
    // waits too, as the \n of a \r\n may be in the next chunk.
    const cut = buffer.endsWith('\r') ? buffer.length - 1 : buffer.length;
    const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
    buffer = lines.pop() + buffer.slice(cut);
    for (const line of lines) {
      if (line === '') {
        if (ev.data.length || ev.event !== 'message' || ev.id) yield {id: ev.id, event: ev.event, data: ev.data.join('\n')};
        ev = {id: '', event: 'message', data: []};
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') ev.data.push(value);
      else if (field === 'event') ev.event = value;
      else if (field === 'id') ev.id = value;
    }
  }
}
