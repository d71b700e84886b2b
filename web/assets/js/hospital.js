// Hospital: the department tree with each ward's occupancy (occupied / beds)
// and its count of open alarms, live; a ward's open alarms, to acknowledge;
// and its current inpatients with their latest predictions as risk badges.

import {h, replace, plural, debounce} from './dom.js';
import {get, request, errorBox, loadingBox} from './api.js';
import {viewHeader} from './ui.js';
import {TreeView} from './tree.js';
import {AlarmBoard, ago} from './alarms.js';

// Risk bands of a prediction's probability.
export function riskBand(p) {
  if (p >= 0.7) return 'high';
  if (p >= 0.3) return 'medium';
  return 'low';
}

// occupancyBar shows occupied / beds as a meter; its fill is set through the
// CSSOM, which the CSP allows (a style attribute it would refuse).
function occupancyBar(occupied, beds) {
  const ratio = beds > 0 ? Math.min(occupied / beds, 1) : 0;
  const fill = h('span.fill');
  fill.style.width = `${(ratio * 100).toFixed(1)}%`;
  const level = ratio >= 0.9 ? 'full' : ratio >= 0.75 ? 'busy' : 'ok';
  return h('span.occupancy', {class: level},
    h('span.bar', {role: 'meter', 'aria-label': 'Occupancy', 'aria-valuemin': '0', 'aria-valuemax': String(beds),
      'aria-valuenow': String(occupied), 'aria-valuetext': `${occupied} of ${beds} beds occupied`}, fill),
    h('span.beds', `${occupied} / ${beds}`));
}

// totals adds up the beds and occupied beds of every ward under node.
function totals(node) {
  if (node.kind === 'ward') return {wards: 1, beds: node.beds || 0, occupied: node.occupied || 0};
  const t = {wards: 0, beds: 0, occupied: 0};
  for (const c of node.children || []) {
    const s = totals(c);
    t.wards += s.wards;
    t.beds += s.beds;
    t.occupied += s.occupied;
  }
  return t;
}

function age(birthDate) {
  if (!birthDate) return '';
  const b = new Date(`${birthDate}T00:00:00Z`);
  const now = new Date();
  let years = now.getUTCFullYear() - b.getUTCFullYear();
  if (now.getUTCMonth() < b.getUTCMonth() || (now.getUTCMonth() === b.getUTCMonth() && now.getUTCDate() < b.getUTCDate())) years--;
  return `${years} y`;
}

function shortDate(ts) {
  if (!ts) return '';
  return new Date(ts).toLocaleString('en-GB', {day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit'});
}

export function mount(root, ctx) {
  const live = h('p.live', {'aria-live': 'polite'});
  const {el: head, status} = viewHeader('hospital-title', 'Hospital',
    'Departments and their wards in one recursive query, with live occupancy and alarms; open a ward to see its patients.', live);
  const summary = h('div.summary');
  const treeBox = h('div.tree-box', loadingBox('Loading departments…'));
  const details = h('aside.panel.details.ward-details', {'aria-label': 'Selected ward'});
  const announcer = h('div.visually-hidden', {role: 'status'});
  let alive = true;
  let selected = null;
  let controller = null;
  let counts = new Map(); // ward id → alarms not resolved
  let alarmList = null; // the open ward's alarm list, when one is open
  let alarmErrors = null;
  let patientNames = new Map(); // uid → name, of the open ward's inpatients

  const board = new AlarmBoard({status, onChange: alarmsChanged, onState: showLive});

  const tree = new TreeView({
    label: 'Departments and wards',
    key: (n) => `${n.kind}:${n.id}`,
    empty: 'No departments yet.',
    renderLabel: (n) => {
      if (n.kind === 'ward') return [h('span.name', n.name), alarmBadge(n.id), occupancyBar(n.occupied || 0, n.beds || 0)];
      const t = totals(n);
      return [h('span.name', n.name), n.code && h('span.code', n.code),
        t.wards > 0 && h('span.dept-total', {title: `${plural(t.wards, 'ward', 'wards')}`}, `${t.occupied} / ${t.beds} beds`)];
    },
    onSelect: (n) => show(n),
  });

  root.append(head, summary,
    h('div.layout',
      h('div.panel.tree-panel', treeBox),
      details),
    announcer);
  replace(details, h('h2', 'No ward open'), h('p.muted', 'Choose a ward in the tree to see its open alarms and current patients.'));

  async function load() {
    try {
      const {data} = await status.track('departments', get('/api/v1/departments/tree'));
      if (!alive) return;
      const all = data.roots.reduce((acc, r) => {
        const t = totals(r);
        return {wards: acc.wards + t.wards, beds: acc.beds + t.beds, occupied: acc.occupied + t.occupied};
      }, {wards: 0, beds: 0, occupied: 0});
      const pct = all.beds ? Math.round((all.occupied / all.beds) * 100) : 0;
      replace(summary,
        stat('Departments', String(data.count - all.wards)),
        stat('Wards', String(all.wards)),
        stat('Beds', String(all.beds)),
        stat('Occupied', `${all.occupied} (${pct}%)`));
      tree.setRoots(data.roots, {expandAll: true});
      replace(treeBox, tree.el);
    } catch (err) {
      replace(treeBox, errorBox(err, {onRetry: load}));
    }
  }

  function stat(label, value) {
    return h('div.stat', h('span.stat-value', value), h('span.stat-label', label));
  }

  // alarmBadge is a ward's count of open alarms: a warning sign and a number,
  // and words for a screen reader; hidden when there is none.
  function alarmBadge(wardID) {
    return fillBadge(h('span.alarm-count', {dataset: {ward: String(wardID)}}), counts.get(wardID) || 0);
  }

  function fillBadge(el, n) {
    el.hidden = n === 0;
    el.dataset.count = String(n);
    return replace(el, h('span.icon', {'aria-hidden': 'true'}, '⚠'), String(n), h('span.visually-hidden', n === 1 ? ' open alarm' : ' open alarms'));
  }

  function showLive(state, err) {
    const text = {
      live: 'Alarms live',
      reconnecting: 'Alarms: reconnecting…',
      refused: `Alarms: ${err && err.title} (${err && err.status})`,
      off: 'Alarms: enter a token with patients:read to follow them',
    }[state];
    live.dataset.state = state;
    replace(live, h('span.icon', {'aria-hidden': 'true'}, state === 'live' ? '●' : '○'), text);
    if (state !== 'live') renderAlarms();
  }

  // alarmsChanged redraws the badges and the open ward's list, announces new
  // alarms, and reloads the open ward's patients when one of them has a new
  // alarm (a new prediction, perhaps a new patient).
  function alarmsChanged(opened) {
    counts = board.counts();
    for (const el of root.querySelectorAll('.alarm-count')) fillBadge(el, counts.get(Number(el.dataset.ward)) || 0);
    renderAlarms();
    if (!opened.length) return;
    replace(announcer, opened.map((a) => {
      const ward = tree.node(`ward:${a.ward_id}`);
      return `New alarm${ward ? ` in ${ward.name}` : ''}: ${a.patient_uid}, ${a.target} ${Math.round(a.probability * 100)}%. `;
    }));
    if (selected && selected.kind === 'ward' && opened.some((a) => a.ward_id === selected.id)) reloadPatients();
  }

  function renderAlarms() {
    if (!alarmList || !selected || selected.kind !== 'ward') return;
    const alarms = board.forWard(selected.id);
    // A redraw must not lose the keyboard focus of someone working the list.
    const focused = alarmList.contains(document.activeElement) && document.activeElement.closest('li.alarm');
    const heading = h('h3.alarms-title', 'Open alarms', alarms.length > 0 && h('span.alarm-total', ` (${alarms.length})`));
    const failed = board.error && [errorBox(board.error), h('p.muted', 'Trying again in a few seconds…')];
    if (!board.loaded) {
      replace(alarmList, heading, failed || h('p.muted', live.dataset.state === 'refused' ? 'Alarms need a token with the patients:read scope.' : 'Loading alarms…'));
      return;
    }
    replace(alarmList, heading, failed, alarms.length
      ? h('ul.alarm-list', alarms.map(alarmItem))
      : h('p.muted.no-alarms', 'No open alarms in this ward.'));
    if (focused) {
      const li = alarmList.querySelector(`li.alarm[data-id="${focused.dataset.id}"]`);
      if (li) (li.querySelector('button') || li).focus();
    }
  }

  function alarmItem(a) {
    const who = patientNames.get(a.patient_uid);
    const acked = a.state === 'acknowledged';
    return h('li.alarm', {class: `alarm-${a.state}`, tabindex: '-1', dataset: {id: String(a.id), state: a.state, uid: a.patient_uid}},
      h('span.alarm-state', h('span.icon', {'aria-hidden': 'true'}, acked ? '✓' : '⚠'), acked ? 'Acknowledged' : 'Open'),
      h('div.alarm-body',
        h('div.alarm-who', h('span.patient-name', who || a.patient_uid), who && h('span.muted.mono', a.patient_uid)),
        h('div.alarm-what', h('span.alarm-target', a.target), ' ', h('span.alarm-pct', `${Math.round(a.probability * 100)}%`),
          h('span.muted', ` · ${a.model} · opened `), timeAgo(a.opened_at)),
        acked && h('div.muted.alarm-ack', `Acknowledged by ${a.acknowledged_by || 'someone'} `, timeAgo(a.acknowledged_at))),
      a.state === 'open' && ctx.token() && h('button.btn.small.ack', {type: 'button', onclick: (e) => acknowledge(a, e.currentTarget)},
        'Acknowledge', h('span.visually-hidden', ` the ${a.target} alarm of ${who || a.patient_uid}`)));
  }

  function timeAgo(ts) {
    return h('time', {datetime: ts, title: shortDate(ts), dataset: {ago: ts}}, ago(ts));
  }

  async function acknowledge(a, btn) {
    btn.disabled = true;
    replace(alarmErrors);
    try {
      const {data} = await status.track('acknowledge', request('POST', `/api/v1/alarms/${a.id}/acknowledge`));
      board.apply([data]);
    } catch (err) {
      btn.disabled = false;
      replace(alarmErrors, errorBox(err));
    }
  }

  async function show(node) {
    selected = node;
    alarmList = null;
    if (controller) controller.abort();
    if (node.kind !== 'ward') {
      const t = totals(node);
      replace(details, h('h2', node.name), h('p.muted', `${node.code || ''} · ${plural(t.wards, 'ward', 'wards')}, ${t.occupied} of ${t.beds} beds occupied`),
        h('ul.ward-list', (node.children || []).filter((c) => c.kind === 'ward').map((w) =>
          h('li', h('span.name', w.name), alarmBadge(w.id), occupancyBar(w.occupied || 0, w.beds || 0)))));
      return;
    }
    const headEl = [h('h2', node.name), h('div.ward-occupancy', occupancyBar(node.occupied || 0, node.beds || 0))];
    if (!ctx.token()) {
      replace(details, headEl, h('p.hint', 'Enter a token with the patients:read scope to see who is in this ward and its alarms.'));
      return;
    }
    alarmList = h('div.alarm-slot');
    alarmErrors = h('div.alarm-errors');
    const patients = h('div.patients-slot', loadingBox('Loading patients…'));
    replace(details, headEl, h('section.alarms', {'aria-label': 'Open alarms'}, alarmList, alarmErrors), patients);
    patientNames = new Map();
    renderAlarms();
    await loadPatients(node, patients);
  }

  // reloadPatients shows the open ward's patients again, without a spinner.
  const reloadPatients = debounce(() => {
    const slot = details.querySelector('.patients-slot');
    if (slot && selected && selected.kind === 'ward') loadPatients(selected, slot);
  }, 300);

  async function loadPatients(node, slot) {
    if (controller) controller.abort();
    controller = new AbortController();
    try {
      const {data} = await status.track('patients', get(`/api/v1/wards/${node.id}/patients`, {signal: controller.signal}));
      if (selected !== node) return;
      const patients = (Array.isArray(data) ? data : data.patients || []).map((p) => ({
        ...p, predictions: p.latest_predictions || p.predictions || [],
      }));
      const maxRisk = (p) => Math.max(-1, ...p.predictions.map((x) => x.probability));
      patients.sort((a, b) => maxRisk(b) - maxRisk(a) || String(a.uid).localeCompare(String(b.uid)));
      const high = patients.filter((p) => maxRisk(p) >= 0.7).length;
      replace(slot,
        h('p.ward-meta', `${plural(patients.length, 'inpatient', 'inpatients')}`, high > 0 && h('span.badge.risk-high', `${high} high risk`)),
        patients.length ? patientTable(patients) : h('p.muted', 'No one is admitted to this ward right now.'));
      patientNames = new Map(patients.map((p) => [p.uid, p.name]).filter(([, name]) => name));
      renderAlarms();
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(slot, errorBox(err));
    }
  }

  function patientTable(patients) {
    return h('div.table-scroll', {tabindex: '0', 'aria-label': 'Inpatients'}, h('table.patients',
      h('caption.visually-hidden', 'Current inpatients, highest risk first'),
      h('thead', h('tr', h('th', {scope: 'col'}, 'Patient'), h('th', {scope: 'col'}, 'Sex · age'),
        h('th', {scope: 'col'}, 'Admitted'), h('th', {scope: 'col'}, 'Latest predictions'))),
      h('tbody', patients.map((p) => h('tr', {dataset: {uid: p.uid}},
        h('td', h('div.patient-name', p.name || '—'), h('div.muted.mono', p.uid)),
        h('td', [p.sex, age(p.birth_date)].filter(Boolean).join(' · ') || '—'),
        h('td', shortDate(p.admitted_at)),
        h('td', h('div.risks', p.predictions.length ? p.predictions.map(riskBadge) : h('span.muted', 'none'))))))));
  }

  function riskBadge(pr) {
    const band = riskBand(pr.probability);
    const pct = Math.round(pr.probability * 100);
    return h('span.badge.risk', {
      class: `risk-${band}`,
      dataset: {band},
      title: `${pr.model}: ${pr.target} within ${pr.horizon_hours} h, ${pct}% (predicted ${shortDate(pr.predicted_at)}) — ${band} risk`,
    }, h('span.risk-target', pr.target), h('span.risk-pct', `${pct}%`));
  }

  // "3 min ago" moves on by itself.
  const ticker = setInterval(() => {
    for (const t of root.querySelectorAll('time[data-ago]')) t.textContent = ago(t.dataset.ago);
  }, 15000);

  load();
  if (ctx.token()) board.start();
  else showLive('off');
  return () => {
    alive = false;
    board.stop();
    clearInterval(ticker);
    reloadPatients.cancel();
    if (controller) controller.abort();
  };
}
