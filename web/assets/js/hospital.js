// Hospital: the department tree with each ward's occupancy (occupied / beds),
// and a ward's current inpatients with their latest predictions as risk badges.

import {h, replace, plural} from './dom.js';
import {get, errorBox, loadingBox} from './api.js';
import {viewHeader} from './ui.js';
import {TreeView} from './tree.js';

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
  const {el: head, status} = viewHeader('hospital-title', 'Hospital',
    'Departments and their wards in one recursive query, with live occupancy; open a ward to see its patients.');
  const summary = h('div.summary');
  const treeBox = h('div.tree-box', loadingBox('Loading departments…'));
  const details = h('aside.panel.details.ward-details', {'aria-label': 'Selected ward'});
  let alive = true;
  let selected = null;
  let controller = null;

  const tree = new TreeView({
    label: 'Departments and wards',
    key: (n) => `${n.kind}:${n.id}`,
    empty: 'No departments yet.',
    renderLabel: (n) => {
      if (n.kind === 'ward') return [h('span.name', n.name), occupancyBar(n.occupied || 0, n.beds || 0)];
      const t = totals(n);
      return [h('span.name', n.name), n.code && h('span.code', n.code),
        t.wards > 0 && h('span.dept-total', {title: `${plural(t.wards, 'ward', 'wards')}`}, `${t.occupied} / ${t.beds} beds`)];
    },
    onSelect: (n) => show(n),
  });

  root.append(head, summary,
    h('div.layout',
      h('div.panel.tree-panel', treeBox),
      details));
  replace(details, h('h2', 'No ward open'), h('p.muted', 'Choose a ward in the tree to see its current patients and their risk.'));

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

  async function show(node) {
    selected = node;
    if (controller) controller.abort();
    if (node.kind !== 'ward') {
      const t = totals(node);
      replace(details, h('h2', node.name), h('p.muted', `${node.code || ''} · ${plural(t.wards, 'ward', 'wards')}, ${t.occupied} of ${t.beds} beds occupied`),
        h('ul.ward-list', (node.children || []).filter((c) => c.kind === 'ward').map((w) =>
          h('li', h('span.name', w.name), occupancyBar(w.occupied || 0, w.beds || 0)))));
      return;
    }
    const headEl = [h('h2', node.name), h('div.ward-occupancy', occupancyBar(node.occupied || 0, node.beds || 0))];
    if (!ctx.token()) {
      replace(details, headEl, h('p.hint', 'Enter a token with the patients:read scope to see who is in this ward.'));
      return;
    }
    replace(details, headEl, loadingBox('Loading patients…'));
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
      replace(details, headEl,
        h('p.ward-meta', `${plural(patients.length, 'inpatient', 'inpatients')}`, high > 0 && h('span.badge.risk-high', `${high} high risk`)),
        patients.length ? patientTable(patients) : h('p.muted', 'No one is admitted to this ward right now.'));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(details, headEl, errorBox(err));
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

  load();
  return () => {
    alive = false;
    if (controller) controller.abort();
  };
}
