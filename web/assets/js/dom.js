// Small DOM helpers. Everything is built with createElement and textContent,
// never innerHTML, so data from the API cannot inject markup (and the CSP
// forbids inline styles and scripts anyway).

// h creates an element: h('a.link#id', {href: '#/x', onclick: fn}, 'text', child, [more]).
// Attributes named on* become event listeners; class, dataset and hidden are
// handled specially; null, undefined and false children are skipped.
export function h(tag, attrs, ...children) {
  const [, name, rest] = /^([a-z0-9-]+)(.*)$/i.exec(tag);
  const el = document.createElement(name);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      for (const c of String(value).split(/\s+/).filter(Boolean)) el.classList.add(c);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'hidden' || key === 'disabled' || key === 'checked' || key === 'selected') {
      el[key] = Boolean(value);
    } else if (key === 'value') {
      el.value = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// clear empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// debounce calls fn once calls have paused for ms.
export function debounce(fn, ms) {
  let timer;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

// won formats an integer amount of won: ₩1,234 (−₩56 when negative).
export function won(n) {
  const abs = Math.abs(Number(n) || 0).toLocaleString('en-US');
  return (n < 0 ? '−₩' : '₩') + abs;
}

// plural: plural(1, 'query', 'queries') → "1 query".
export function plural(n, one, many) {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

// highlight returns text with every case-insensitive occurrence of q wrapped in <mark>.
export function highlight(text, q) {
  const needle = (q || '').trim().toLowerCase();
  if (!needle) return [text];
  const out = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h('mark', text.slice(i, i + needle.length)));
    at = i + needle.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

// monthName: monthName(2024, 11) → "November 2024".
export function monthName(year, month) {
  return new Date(Date.UTC(year, month - 1, 1)).toLocaleString('en-US', {month: 'long', year: 'numeric', timeZone: 'UTC'});
}

// addMonths moves {year, month} by n months.
export function addMonths({year, month}, n) {
  const i = year * 12 + (month - 1) + n;
  return {year: Math.floor(i / 12), month: (i % 12) + 1};
}

// currentMonth is this month in time zone tz (the browser's by default).
export function currentMonth(tz) {
  const parts = new Intl.DateTimeFormat('en-US', {year: 'numeric', month: 'numeric', timeZone: tz || undefined}).formatToParts(new Date());
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return {year: get('year'), month: get('month')};
}

// parseMonth reads "2024-11" into {year, month}, or null.
export function parseMonth(s) {
  const m = /^(\d{4})-(\d{1,2})$/.exec(s || '');
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return null;
  return {year: Number(m[1]), month: Number(m[2])};
}

export function formatMonth({year, month}) {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}
