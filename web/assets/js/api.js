// The HTTP client of the front end: JSON in and out, the bearer token from
// localStorage, problem+json errors as ApiError, and the Server-Timing header
// of every response read into {queries, ms}.

import {h, replace, plural} from './dom.js';

const TOKEN_KEY = 'canopy.token';

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent('canopy:token'));
}

// ApiError is a failed request: the problem document's fields, or a network failure (status 0).
export class ApiError extends Error {
  constructor(status, problem, timing) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || (status ? `HTTP ${status}` : 'Network error');
    this.detail = problem.detail || '';
    this.code = problem.code || '';
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.requestId = problem.request_id || '';
    this.timing = timing;
  }
}

// parseServerTiming reads `db;dur=3.214;desc="1 queries"` into {queries: 1, ms: 3.214}, or null.
export function parseServerTiming(header) {
  if (!header) return null;
  for (const metric of header.split(',')) {
    const [name, ...params] = metric.trim().split(';');
    if (name.trim() !== 'db') continue;
    let ms = NaN;
    let queries = NaN;
    for (const p of params) {
      const [k, v = ''] = p.trim().split('=');
      if (k === 'dur') ms = parseFloat(v);
      if (k === 'desc') queries = parseInt(v.replace(/^"|"$/g, ''), 10);
    }
    if (!Number.isNaN(ms) && !Number.isNaN(queries)) return {queries, ms};
  }
  return null;
}

// formatTiming: {queries: 1, ms: 3.21} → "1 query · 3.2 ms".
export function formatTiming(t) {
  if (!t) return 'no timing';
  return `${plural(t.queries, 'query', 'queries')} · ${t.ms.toFixed(1)} ms`;
}

// send fetches path with the bearer token and the given headers; it rejects
// with an ApiError (status 0) when canopy does not answer, and passes an
// abort through as it is.
export async function send(method, path, {body, signal, headers = {}} = {}) {
  const token = getToken();
  if (token) headers = {...headers, Authorization: `Bearer ${token}`};
  try {
    return await fetch(path, {method, headers, signal, body});
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, {title: 'Network error', detail: `canopy did not answer (${err.message}).`});
  }
}

// request sends a request to the API and resolves to {data, timing, status};
// it rejects with an ApiError for any status ≥ 400 or a network failure.
export async function request(method, path, {body, signal} = {}) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return answer(await send(method, path, {headers, signal, body: body === undefined ? undefined : JSON.stringify(body)}));
}

// answer reads a response into {data, timing, status}; for any status ≥ 400
// it rejects with the problem document as an ApiError.
export async function answer(resp) {
  const timing = parseServerTiming(resp.headers.get('Server-Timing'));
  const type = resp.headers.get('Content-Type') || '';
  let data = null;
  if (resp.status !== 204 && (type.includes('json'))) {
    try {
      data = await resp.json();
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data && typeof data === 'object' ? data : {title: resp.statusText}, timing);
  }
  return {data, timing, status: resp.status};
}

export const get = (path, opts) => request('GET', path, opts);

// query builds a query string from the defined values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// StatusLine shows, for each request behind a view, its query count and
// database time: "tree 2 queries · 1.3 ms". While a request is slow it says so.
export class StatusLine {
  constructor({keep = 3} = {}) {
    this.keep = keep;
    this.el = h('p.status', {role: 'status', 'aria-live': 'polite'});
    this.entries = new Map();
    this.pending = new Map();
    this.render();
  }

  // track runs promise (a request) under label and records its timing.
  async track(label, promise) {
    const token = {};
    this.pending.set(label, token);
    const timer = setTimeout(() => this.render(), 150);
    try {
      const res = await promise;
      this.entries.delete(label);
      this.entries.set(label, {timing: res.timing, ok: true});
      return res;
    } catch (err) {
      if (err instanceof ApiError) {
        this.entries.delete(label);
        this.entries.set(label, {timing: err.timing, ok: false, status: err.status});
      }
      throw err;
    } finally {
      clearTimeout(timer);
      if (this.pending.get(label) === token) this.pending.delete(label);
      this.render();
    }
  }

  forget(label) {
    this.entries.delete(label);
    this.render();
  }

  render() {
    const items = [];
    // The latest few requests, oldest first.
    for (const [label, e] of [...this.entries].slice(-this.keep)) {
      if (this.pending.has(label)) continue;
      items.push(h('span.entry', {class: e.ok ? '' : 'failed', dataset: {label}},
        h('span.label', label),
        h('span.timing', e.timing ? formatTiming(e.timing) : (e.status ? `HTTP ${e.status}` : 'no answer'))));
    }
    const loading = [...this.pending.keys()];
    if (loading.length) items.push(h('span.loading', h('span.spinner', {'aria-hidden': 'true'}), `Loading ${loading.join(', ')}…`));
    if (!items.length) items.push(h('span.idle', 'No request yet'));
    replace(this.el, h('span.db', {title: 'SQL statements and database time, from the Server-Timing header'}, 'DB'), items);
  }
}

// errorBox renders an error as a readable message: the problem's detail and
// every per-field error. It returns an element with role=alert.
export function errorBox(err, {onRetry} = {}) {
  if (!(err instanceof ApiError)) {
    err = new ApiError(0, {title: 'Something went wrong', detail: String(err && err.message || err)});
  }
  const hint = {
    401: 'Enter a valid API token in the box at the top.',
    403: 'Your token lacks the scope this needs.',
    503: 'The database is unavailable; try again shortly.',
  }[err.status];
  return h('div.error', {role: 'alert'},
    h('p.error-title', err.status ? `${err.title} (${err.status})` : err.title),
    err.detail && h('p.error-detail', err.detail),
    err.errors.length > 0 && h('ul.error-fields', err.errors.map((f) =>
      h('li', h('code', f.index !== undefined ? `[${f.index}] ${f.field}` : f.field), ' ', f.message))),
    hint && h('p.error-hint', hint),
    onRetry && h('button.btn.small', {type: 'button', onclick: onRetry}, 'Try again'));
}

// loadingBox is the placeholder shown while the first answer is on its way.
export function loadingBox(text = 'Loading…') {
  return h('div.loading-box', {'aria-busy': 'true'}, h('span.spinner', {'aria-hidden': 'true'}), text);
}
