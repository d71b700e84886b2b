// Settlements: every teacher's month (sales, refunds, commission, payout) in
// a table with a totals row, sortable by any column, and a CSV download built
// from the loaded data.

import {h, replace, won, monthName, addMonths, currentMonth, parseMonth, formatMonth, plural} from './dom.js';
import {get, query, errorBox, loadingBox} from './api.js';
import {viewHeader} from './ui.js';

const COLUMNS = [
  {key: 'teacher_name', label: 'Teacher', type: 'text'},
  {key: 'commission_rate', label: 'Rate', type: 'rate'},
  {key: 'course_sales', label: 'Courses', type: 'money'},
  {key: 'package_sales', label: 'Packages', type: 'money'},
  {key: 'kit_sales', label: 'Kits', type: 'money'},
  {key: 'refunds', label: 'Refunds', type: 'money'},
  {key: 'gross', label: 'Gross', type: 'money'},
  {key: 'commission', label: 'Commission', type: 'money'},
  {key: 'payout', label: 'Payout', type: 'money'},
];

function cell(col, row) {
  const v = row[col.key];
  if (col.type === 'money') return won(v);
  if (col.type === 'rate') return `${Math.round(v * 10000) / 100}%`;
  return v;
}

// csvField quotes a field when it must be (RFC 4180), and defuses a leading
// =, +, - or @ that a spreadsheet would run as a formula.
function csvField(v) {
  let s = String(v ?? '');
  if (/^[=+\-@]/.test(s) && Number.isNaN(Number(s))) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// toCSV is the table as CSV: raw integers in won, and a totals line.
export function toCSV(data) {
  const keys = ['teacher_id', ...COLUMNS.map((c) => c.key)];
  const lines = [keys.join(',')];
  for (const t of data.teachers) lines.push(keys.map((k) => csvField(t[k])).join(','));
  lines.push(['', 'Total', '', ...COLUMNS.slice(2).map((c) => data.totals[c.key])].map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function mount(root, ctx) {
  const {el: head, status} = viewHeader('settlements-title', 'Settlements',
    'Every teacher’s month in a constant number of statements: no query per teacher.');
  let month = parseMonth(ctx.params.get('month')) || currentMonth();
  let sort = {key: ctx.params.get('sort') || 'payout', dir: ctx.params.get('dir') === 'asc' ? 'asc' : 'desc'};
  let data = null;
  let alive = true;
  let generation = 0;

  const monthInput = h('input#settlement-month', {type: 'month', value: formatMonth(month), 'aria-label': 'Month'});
  const download = h('button.btn', {type: 'button', disabled: true, onclick: () => saveCSV()}, 'Download CSV');
  const tableBox = h('div.table-box', loadingBox());
  root.append(head,
    h('div.controls',
      h('div.month-nav',
        h('button.btn.icon', {type: 'button', 'aria-label': 'Previous month', title: 'Previous month', onclick: () => go(-1)}, '‹'),
        h('label.visually-hidden', {for: 'settlement-month'}, 'Month'),
        monthInput,
        h('button.btn.icon', {type: 'button', 'aria-label': 'Next month', title: 'Next month', onclick: () => go(1)}, '›')),
      h('div.spacer'),
      download),
    h('div.panel.table-panel', tableBox));

  function save() {
    ctx.setParams({month: formatMonth(month), sort: sort.key, dir: sort.dir});
  }

  function go(n) {
    month = addMonths(month, n);
    monthInput.value = formatMonth(month);
    save();
    load();
  }

  monthInput.addEventListener('change', () => {
    const m = parseMonth(monthInput.value);
    if (!m) return;
    month = m;
    save();
    load();
  });

  async function load() {
    const gen = ++generation;
    download.disabled = true;
    if (!ctx.token()) {
      replace(tableBox, h('p.hint', 'Enter a token with the settlements:read scope to see the month’s settlement.'));
      return;
    }
    tableBox.setAttribute('aria-busy', 'true');
    if (!data) replace(tableBox, loadingBox('Settling the month…'));
    try {
      const res = await status.track('settlement', get(`/api/v1/settlements${query({year: month.year, month: month.month})}`));
      if (!alive || gen !== generation) return;
      data = res.data;
      render();
    } catch (err) {
      if (gen === generation) {
        data = null;
        replace(tableBox, errorBox(err, {onRetry: load}));
      }
    } finally {
      if (gen === generation) tableBox.removeAttribute('aria-busy');
    }
  }

  function sorted() {
    const col = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[0];
    const dir = sort.dir === 'asc' ? 1 : -1;
    return [...data.teachers].sort((a, b) => {
      const x = a[col.key];
      const y = b[col.key];
      const c = col.type === 'text' ? String(x).localeCompare(String(y)) : x - y;
      return c * dir || a.teacher_id - b.teacher_id;
    });
  }

  function render() {
    download.disabled = data.teachers.length === 0;
    if (!data.teachers.length) {
      replace(tableBox, h('p.muted', `No teachers to settle in ${monthName(month.year, month.month)}.`));
      return;
    }
    const headers = COLUMNS.map((c) => {
      const active = c.key === sort.key;
      return h('th', {scope: 'col', class: c.type === 'text' ? '' : 'num', 'aria-sort': active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'},
        h('button.sort', {type: 'button', dataset: {key: c.key}, onclick: () => sortBy(c)},
          c.label, h('span.arrow', {'aria-hidden': 'true'}, active ? (sort.dir === 'asc' ? '▲' : '▼') : '↕')));
    });
    const rows = sorted().map((t) => h('tr', {dataset: {teacher: String(t.teacher_id)}},
      COLUMNS.map((c, i) => (i === 0
        ? h('th', {scope: 'row'}, t.teacher_name)
        : h('td', {class: `num ${c.key}${c.key === 'refunds' && t.refunds > 0 ? ' negative' : ''}`}, cell(c, t))))));
    const totals = h('tr.totals', h('th', {scope: 'row'}, 'Total'), h('td.num', ''),
      COLUMNS.slice(2).map((c) => h('td', {class: `num ${c.key}`}, won(data.totals[c.key]))));
    replace(tableBox, h('table.settlements',
      h('caption', `${monthName(month.year, month.month)} · ${plural(data.teachers.length, 'teacher', 'teachers')}`),
      h('thead', h('tr', headers)),
      h('tbody', rows),
      h('tfoot', totals)));
  }

  function sortBy(col) {
    sort = sort.key === col.key
      ? {key: col.key, dir: sort.dir === 'asc' ? 'desc' : 'asc'}
      : {key: col.key, dir: col.type === 'text' ? 'asc' : 'desc'};
    save();
    render();
    const btn = tableBox.querySelector(`button.sort[data-key="${col.key}"]`);
    if (btn) btn.focus();
  }

  function saveCSV() {
    if (!data) return;
    const blob = new Blob([toCSV(data)], {type: 'text/csv;charset=utf-8'});
    const url = URL.createObjectURL(blob);
    const a = h('a', {href: url, download: `settlements-${formatMonth(month)}.csv`, hidden: true});
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  load();
  return () => {
    alive = false;
    generation++;
  };
}
