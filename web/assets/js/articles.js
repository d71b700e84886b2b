// Articles: a user's month. A calendar whose days are shaded by how many
// articles arrived (unread ones marked), month navigation, and the month's
// list, newest first, with newsletter images, "mark read", and infinite
// scroll over the keyset cursor.

import {h, replace, plural, monthName, addMonths, currentMonth, parseMonth, formatMonth, debounce} from './dom.js';
import {get, request, query, errorBox, loadingBox} from './api.js';
import {viewHeader} from './ui.js';

const PAGE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ZONES = ['UTC', 'Asia/Seoul', 'Asia/Tokyo', 'Asia/Shanghai', 'Asia/Singapore', 'Asia/Kolkata', 'Asia/Dubai',
  'Europe/London', 'Europe/Paris', 'Europe/Berlin', 'Europe/Moscow', 'Africa/Cairo', 'Africa/Johannesburg',
  'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'America/Sao_Paulo',
  'Australia/Sydney', 'Pacific/Auckland'];

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

// dayOf is the date (YYYY-MM-DD) of an instant in time zone tz.
function dayOf(ts, tz) {
  return new Intl.DateTimeFormat('en-CA', {year: 'numeric', month: '2-digit', day: '2-digit', timeZone: tz}).format(new Date(ts));
}

function initials(name) {
  return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

// hue picks a stable color for a sender, so its placeholder is recognisable.
function hue(text) {
  let n = 0;
  for (const c of text || '') n = (n * 31 + c.charCodeAt(0)) % 360;
  return n;
}

export function mount(root, ctx) {
  const {el: head, status} = viewHeader('articles-title', 'Articles',
    'A user’s month: the calendar and every page of the list are each one index range scan.');
  const zone = browserZone();
  const zones = ZONES.includes(zone) ? ZONES : [zone, ...ZONES];
  const state = {
    user: (ctx.params.get('user') || '').toLowerCase(),
    tz: ctx.params.get('tz') || zone,
    month: parseMonth(ctx.params.get('month')) || currentMonth(ctx.params.get('tz') || zone),
  };
  if (!zones.includes(state.tz)) zones.unshift(state.tz);

  const userInput = h('input#article-user', {
    list: 'article-users', placeholder: 'user id (uuid)', autocomplete: 'off', spellcheck: 'false', value: state.user,
  });
  const userList = h('datalist#article-users');
  const userHint = h('span.help');
  const tzSelect = h('select#article-tz', zones.map((z) => h('option', {value: z, selected: z === state.tz}, z.replace(/_/g, ' '))));
  const monthLabel = h('h2.month-label', {'aria-live': 'polite'});
  const prev = h('button.btn.icon', {type: 'button', 'aria-label': 'Previous month', title: 'Previous month', onclick: () => go(-1)}, '‹');
  const next = h('button.btn.icon', {type: 'button', 'aria-label': 'Next month', title: 'Next month', onclick: () => go(1)}, '›');
  const calendarBox = h('div.calendar-box');
  const listHead = h('div.list-head');
  const list = h('div.article-list', {'aria-label': 'Articles'});
  const sentinel = h('div.sentinel');
  const body = h('div.layout.articles-layout',
    h('div.panel.calendar-panel',
      h('div.month-nav', prev, monthLabel, next),
      calendarBox,
      h('p.legend', h('span.swatch.heat-1'), h('span.swatch.heat-2'), h('span.swatch.heat-3'), h('span.swatch.heat-4'),
        ' more articles  ', h('span.unread-dot', {'aria-hidden': 'true'}), ' unread')),
    h('div.panel.list-panel', listHead, list, sentinel));

  root.append(head,
    h('div.controls',
      h('div.field', h('label', {for: 'article-user'}, 'User'), userInput, userList, userHint),
      h('div.field', h('label', {for: 'article-tz'}, 'Time zone'), tzSelect)),
    body);

  let alive = true;
  let generation = 0;
  let cursor = null;
  let loadingMore = false;
  let days = new Map(); // date → {count, unread, cell}
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, {rootMargin: '300px'});

  function save() {
    ctx.setParams({user: state.user, tz: state.tz, month: formatMonth(state.month)});
  }

  function go(n) {
    state.month = addMonths(state.month, n);
    save();
    load();
  }

  async function loadUsers() {
    try {
      const {data} = await status.track('users', get(`/api/v1/users${query({limit: 50})}`));
      replace(userList, data.users.map((u) => h('option', {value: u.user_id}, `${plural(u.articles, 'article', 'articles')}, ${u.unread} unread`)));
      replace(userHint, data.users.length ? `${plural(data.users.length, 'user', 'users')} with articles` : 'No articles stored yet.');
      if (!state.user && data.users.length) {
        state.user = data.users[0].user_id;
        userInput.value = state.user;
        save();
        load();
      }
    } catch (err) {
      replace(userHint, err.status === 403 ? 'Your token cannot list users; type a user id.' : err.detail || err.message);
    }
  }

  // load shows the month: calendar and first page, in parallel.
  async function load() {
    const gen = ++generation;
    monthLabel.textContent = monthName(state.month.year, state.month.month);
    observer.unobserve(sentinel);
    cursor = null;
    replace(sentinel);
    if (!ctx.token()) {
      replace(calendarBox, emptyCalendar());
      replace(listHead);
      replace(list, h('p.hint', 'Enter a token with the articles:read scope to see a user’s articles.'));
      return;
    }
    if (!UUID.test(state.user)) {
      replace(calendarBox, emptyCalendar());
      replace(listHead);
      replace(list, h('p.hint', state.user ? 'That is not a user id (a UUID).' : 'Pick a user to see their month.'));
      return;
    }
    replace(calendarBox, loadingBox('Loading the calendar…'));
    replace(list, loadingBox('Loading articles…'));
    replace(listHead);
    const base = `/api/v1/users/${encodeURIComponent(state.user)}/articles`;
    const month = {year: state.month.year, month: state.month.month, tz: state.tz};
    const [cal, page] = await Promise.allSettled([
      status.track('calendar', get(`${base}/calendar${query(month)}`)),
      status.track('list', get(`${base}${query({...month, limit: PAGE})}`)),
    ]);
    if (!alive || gen !== generation) return;
    if (cal.status === 'fulfilled') renderCalendar(cal.value.data.days);
    else replace(calendarBox, errorBox(cal.reason, {onRetry: load}));
    if (page.status === 'fulfilled') {
      replace(list);
      appendPage(page.value.data);
    } else {
      replace(list, errorBox(page.reason, {onRetry: load}));
    }
  }

  function emptyCalendar() {
    const n = new Date(Date.UTC(state.month.year, state.month.month, 0)).getUTCDate();
    const list = [];
    for (let d = 1; d <= n; d++) list.push({date: `${formatMonth(state.month)}-${String(d).padStart(2, '0')}`, count: 0, unread: 0});
    return calendarTable(list, true);
  }

  function renderCalendar(list) {
    replace(calendarBox, calendarTable(list, false));
    const total = list.reduce((a, d) => a + d.count, 0);
    const unread = list.reduce((a, d) => a + d.unread, 0);
    replace(listHead, h('p.month-total', `${plural(total, 'article', 'articles')} this month`,
      unread > 0 && h('span.badge.unread-badge', `${unread} unread`)));
  }

  function calendarTable(list, empty) {
    days = new Map();
    const max = Math.max(1, ...list.map((d) => d.count));
    const first = new Date(`${list[0].date}T00:00:00Z`).getUTCDay();
    const cells = [];
    for (let i = 0; i < (first + 6) % 7; i++) cells.push(h('td.pad', {'aria-hidden': 'true'}));
    for (const d of list) {
      const level = d.count === 0 ? 0 : Math.max(1, Math.ceil((d.count / max) * 4));
      const dayNum = Number(d.date.slice(8));
      // The name a screen reader says, "2 November: 7 articles, 5 unread",
      // is the visible text with hidden words between: an aria-label would
      // hide the visible numbers from voice control (WCAG 2.5.3).
      const month = monthName(state.month.year, state.month.month).split(' ')[0];
      const content = [h('span.daynum', String(dayNum)), h('span.visually-hidden', ` ${month}: `),
        d.count > 0 ? h('span.daycount', String(d.count)) : h('span.visually-hidden', '0'),
        h('span.visually-hidden', ` ${d.count === 1 ? 'article' : 'articles'}${d.unread ? `, ${d.unread} unread` : ''}`),
        d.unread > 0 && h('span.unread-dot', {title: `${d.unread} unread`})];
      const cell = h('td.day', {class: `heat-${level}${d.unread ? ' has-unread' : ''}`, dataset: {date: d.date, count: String(d.count), unread: String(d.unread)}},
        d.count > 0 && !empty
          ? h('button.day-btn', {type: 'button', onclick: () => jumpTo(d.date)}, content)
          : h('span.day-btn', content));
      days.set(d.date, {...d, cell});
      cells.push(cell);
    }
    while (cells.length % 7) cells.push(h('td.pad', {'aria-hidden': 'true'}));
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(h('tr', cells.slice(i, i + 7)));
    return h('table.calendar', {class: empty ? 'empty' : ''},
      h('caption.visually-hidden', `Articles per day, ${monthName(state.month.year, state.month.month)}, ${state.tz}`),
      h('thead', h('tr', ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((d) => h('th', {scope: 'col'}, d)))),
      h('tbody', rows));
  }

  // appendPage adds a page of articles under day headings, and watches for the next.
  function appendPage(data) {
    cursor = data.next_cursor;
    if (!data.articles.length && !list.querySelector('article')) {
      replace(list, h('p.muted.empty-list', `No articles in ${monthName(state.month.year, state.month.month)}.`));
    }
    const fmtDay = new Intl.DateTimeFormat('en-GB', {weekday: 'long', day: 'numeric', month: 'long', timeZone: state.tz});
    const fmtTime = new Intl.DateTimeFormat('en-GB', {hour: '2-digit', minute: '2-digit', timeZone: state.tz});
    for (const a of data.articles) {
      const day = dayOf(a.created_at, state.tz);
      let group = list.querySelector(`section.day-group[data-date="${day}"] > .cards`);
      if (!group) {
        group = h('div.cards');
        list.append(h('section.day-group', {dataset: {date: day}}, h('h3.day-head', fmtDay.format(new Date(a.created_at))), group));
      }
      group.append(articleCard(a, fmtTime));
    }
    if (cursor) {
      replace(sentinel, h('button.btn.ghost.more', {type: 'button', onclick: loadMore}, 'Load more'));
      // Observing again reports the sentinel at once if it is still in view.
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    } else {
      observer.unobserve(sentinel);
      const n = list.querySelectorAll('article').length;
      replace(sentinel, n ? h('p.muted.end', `That’s all: ${plural(n, 'article', 'articles')}.`) : null);
    }
  }

  async function loadMore() {
    if (!cursor || loadingMore) return;
    loadingMore = true;
    const gen = generation;
    replace(sentinel, loadingBox('Loading more…'));
    try {
      const base = `/api/v1/users/${encodeURIComponent(state.user)}/articles`;
      const {data} = await status.track('list', get(`${base}${query({year: state.month.year, month: state.month.month, tz: state.tz, limit: PAGE, cursor})}`));
      if (!alive || gen !== generation) return;
      appendPage(data);
    } catch (err) {
      if (gen === generation) replace(sentinel, errorBox(err, {onRetry: loadMore}));
    } finally {
      loadingMore = false;
    }
  }

  // jumpTo scrolls to a day's articles, loading pages until they are there.
  async function jumpTo(date) {
    const gen = generation;
    const find = () => list.querySelector(`section.day-group[data-date="${date}"]`);
    while (!find() && cursor && gen === generation) {
      await loadMore();
    }
    const section = find();
    if (section) {
      section.scrollIntoView({behavior: 'smooth', block: 'start'});
      const firstCard = section.querySelector('article');
      if (firstCard) firstCard.focus({preventScroll: true});
    }
  }

  function articleCard(a, fmtTime) {
    const placeholder = () => {
      const el = h('div.thumb.placeholder', {'aria-hidden': 'true'}, initials(a.from_name));
      el.style.setProperty('--hue', String(hue(a.from_domain)));
      return el;
    };
    let thumb;
    if (a.image_url) {
      thumb = h('img.thumb', {src: a.image_url, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer'});
      thumb.addEventListener('error', () => thumb.replaceWith(placeholder()), {once: true});
    } else {
      thumb = placeholder();
    }
    const card = h('article.card.article', {class: a.is_read ? 'read' : 'unread', tabindex: '-1', dataset: {id: a.id}},
      thumb,
      h('div.article-body',
        h('h4.article-title', a.title),
        h('p.article-meta',
          h('span.from', a.from_name), ' · ', h('span.domain', a.from_domain),
          a.mailing_list && [' · ', h('span.list', a.mailing_list)],
          ' · ', h('time', {datetime: a.created_at}, fmtTime.format(new Date(a.created_at))))),
      h('div.article-side', readControl(a)));
    return card;
  }

  function readControl(a) {
    if (a.is_read) return h('span.read-label', 'Read');
    const btn = h('button.btn.small.mark-read', {type: 'button'}, 'Mark read', h('span.visually-hidden', `: “${a.title}”`));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await status.track('mark read', request('PATCH', `/api/v1/articles/${encodeURIComponent(a.id)}`, {body: {is_read: true}}));
        a.is_read = true;
        const card = btn.closest('article');
        card.classList.replace('unread', 'read');
        btn.replaceWith(readControl(a));
        markDayRead(dayOf(a.created_at, state.tz));
      } catch (err) {
        btn.disabled = false;
        btn.closest('.article-side').append(errorBox(err));
      }
    });
    return btn;
  }

  // markDayRead lowers a day's unread count in the calendar without asking the server again.
  function markDayRead(date) {
    const d = days.get(date);
    if (!d || d.unread === 0) return;
    d.unread--;
    d.cell.dataset.unread = String(d.unread);
    if (d.unread === 0) {
      d.cell.classList.remove('has-unread');
      const dot = d.cell.querySelector('.unread-dot');
      if (dot) dot.remove();
    } else {
      d.cell.querySelector('.unread-dot').title = `${d.unread} unread`;
    }
    const badge = listHead.querySelector('.unread-badge');
    if (badge) {
      const left = Number(badge.textContent.split(' ')[0]) - 1;
      if (left > 0) badge.textContent = `${left} unread`;
      else badge.remove();
    }
  }

  const onUser = debounce(() => {
    const v = userInput.value.trim().toLowerCase();
    if (v === state.user) return;
    state.user = v;
    save();
    load();
  }, 300);
  userInput.addEventListener('input', onUser);
  userInput.addEventListener('change', onUser);
  tzSelect.addEventListener('change', () => {
    state.tz = tzSelect.value;
    save();
    load();
  });

  if (ctx.token()) loadUsers();
  load();
  return () => {
    alive = false;
    generation++;
    onUser.cancel();
    observer.disconnect();
  };
}
