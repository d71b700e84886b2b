// Categories: the category tree, loaded two levels at a time; a debounced
// search that shows the pruned tree with matches highlighted and a
// breadcrumb per match; and, with a token, add, rename, move (a picker, or
// drag and drop) and delete. Any writer's change reloads the tree: the
// tree's version comes live from /categories/events.

import {h, replace, debounce, highlight, plural} from './dom.js';
import {get, request, query, errorBox, loadingBox, ApiError} from './api.js';
import {viewHeader, openDialog, field} from './ui.js';
import {TreeView} from './tree.js';
import {subscribe} from './sse.js';

const API = '/api/v1/categories';
const DEPTH = 2;

export function mount(root, ctx) {
  const {el: head, status} = viewHeader('categories-title', 'Categories',
    'The whole forest comes from one WITH RECURSIVE statement; deeper levels load as you open them.');
  const errorSlot = h('div.error-slot');
  const searchInput = h('input.search', {
    type: 'search', placeholder: 'Search categories…', 'aria-label': 'Search categories',
    autocomplete: 'off', spellcheck: 'false', value: ctx.params.get('q') || '',
  });
  const addRoot = h('button.btn.small', {type: 'button', onclick: () => addDialog(null)}, '+ Root category');
  const results = h('div.search-results', {hidden: true});
  const treeBox = h('div.tree-box', loadingBox('Loading the tree…'));
  const details = h('aside.panel.details', {'aria-label': 'Selected category'});
  let mode = 'browse';
  let browseRoots = null;
  let browseExpanded = new Set();
  let searchQuery = '';
  let searchAbort = null;
  let selected = null; // node
  let shownVersion = null; // the tree version on screen
  let liveVersion = null; // the newest version /events announced
  let following = false;
  let writing = 0; // the user's own writes under way
  let alive = true;

  const tree = new TreeView({
    label: 'Categories',
    empty: 'No categories yet.',
    renderLabel: (n) => [
      h('span.name', {class: n.match ? 'is-match' : ''}, mode === 'search' && n.match ? highlight(n.name, searchQuery) : n.name),
      n.child_count > 0 && h('span.count', {title: `${plural(n.child_count, 'child', 'children')}`}, String(n.child_count)),
    ],
    loadChildren: async (n) => {
      const {data} = await status.track('subtree', get(`${API}/tree${query({root: n.id, depth: DEPTH})}`));
      return data.roots[0];
    },
    onSelect: (n) => showDetails(n),
    onError: (err) => showError(err),
    canDrag: () => Boolean(ctx.token()),
    onDrop: (source, target) => moveTo(source, target.id).catch(showError),
  });

  root.append(head,
    h('div.layout',
      h('div.panel.tree-panel',
        h('div.toolbar', searchInput, ctx.token() ? addRoot : null),
        errorSlot,
        results,
        treeBox),
      details));
  showDetails(null);

  function showError(err) {
    replace(errorSlot, err ? errorBox(err) : null);
  }

  async function loadTree() {
    try {
      const {data} = await status.track('tree', get(`${API}/tree${query({depth: DEPTH})}`));
      if (!alive) return;
      shownVersion = data.version;
      browseRoots = data.roots;
      if (mode === 'browse') {
        tree.setRoots(browseRoots);
        replace(treeBox, tree.el);
      }
    } catch (err) {
      replace(treeBox, errorBox(err, {onRetry: loadTree}));
    }
  }

  // search shows the pruned tree of q's matches, or the browsing tree when q is blank.
  async function search(q) {
    searchQuery = q.trim();
    ctx.setParams({q: searchQuery});
    if (searchAbort) searchAbort.abort();
    if (!searchQuery) {
      if (mode === 'search') {
        mode = 'browse';
        status.forget('search');
        results.hidden = true;
        tree.expanded = browseExpanded;
        if (browseRoots) {
          tree.setRoots(browseRoots);
          replace(treeBox, tree.el);
        }
      }
      return;
    }
    searchAbort = new AbortController();
    results.hidden = false;
    replace(results, loadingBox('Searching…'));
    try {
      const {data} = await status.track('search', get(`${API}/search${query({q: searchQuery})}`, {signal: searchAbort.signal}));
      if (!alive) return;
      if (mode === 'browse') browseExpanded = tree.expanded;
      mode = 'search';
      tree.expanded = new Set();
      renderMatches(data);
      tree.setRoots(data.tree.roots, {expandAll: true});
      replace(treeBox, tree.el);
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(results, errorBox(err));
    }
  }

  function renderMatches(data) {
    const n = data.matches.length;
    replace(results,
      h('p.matches-head', n ? `${plural(n, 'match', 'matches')} for “${data.query}”${data.truncated ? ' (first ones only)' : ''}`
        : `No category matches “${data.query}”.`),
      n > 0 && h('ol.matches', data.matches.map((m) => h('li',
        h('button.match', {type: 'button', dataset: {id: String(m.id)}, onclick: () => {
          tree.select(String(m.id));
          tree.focus(String(m.id));
        }}, crumbs(m.path, true))))));
  }

  // crumbs renders a path of {id, name} as Root › Parent › Node, the last one highlighted when asked.
  function crumbs(path, mark) {
    const out = [];
    path.forEach((step, i) => {
      const last = i === path.length - 1;
      if (i > 0) out.push(h('span.sep', {'aria-hidden': 'true'}, ' › '));
      out.push(h('span.crumb', {class: last ? 'current' : ''}, last && mark ? highlight(step.name, searchQuery) : step.name));
    });
    return h('span.crumbs', out);
  }

  async function showDetails(node) {
    selected = node;
    const canWrite = Boolean(ctx.token());
    if (!node) {
      replace(details,
        h('h2', 'Nothing selected'),
        h('p.muted', 'Pick a category in the tree: click it, or move with the arrow keys and press Enter.'),
        h('h3.keys-title', 'Keyboard'),
        keyHelp(),
        !canWrite && h('p.hint', 'Enter a token with the trees:write scope to add, rename, move and delete.'));
      return;
    }
    const pathSlot = h('nav.path', {'aria-label': 'Path'}, h('span.muted', '…'));
    replace(details,
      h('h2.node-name', node.name),
      pathSlot,
      h('dl.facts',
        h('dt', 'id'), h('dd', String(node.id)),
        h('dt', 'depth'), h('dd', String(node.depth)),
        h('dt', 'children'), h('dd', String(node.child_count)),
        h('dt', 'position'), h('dd', String(node.position))),
      h('div.actions',
        h('button.btn', {type: 'button', disabled: !canWrite, onclick: () => addDialog(node)}, 'Add child'),
        h('button.btn', {type: 'button', disabled: !canWrite, onclick: () => renameDialog(node)}, 'Rename'),
        h('button.btn', {type: 'button', disabled: !canWrite, onclick: () => moveDialog(node)}, 'Move to…'),
        h('button.btn.danger', {type: 'button', disabled: !canWrite, onclick: () => deleteDialog(node)}, 'Delete')),
      canWrite ? h('p.hint', 'Tip: drag a category onto another to move it there.')
        : h('p.hint', 'Enter a token with the trees:write scope to add, rename, move and delete.'),
      h('h3.keys-title', 'Keyboard'),
      keyHelp());
    try {
      const {data} = await status.track('path', get(`${API}/${node.id}/ancestors`));
      if (selected === node) replace(pathSlot, crumbs(data.path, false));
    } catch (err) {
      if (selected === node) replace(pathSlot, errorBox(err));
    }
  }

  function keyHelp() {
    return h('dl.keys',
      h('dt', h('kbd', '↑'), h('kbd', '↓')), h('dd', 'move'),
      h('dt', h('kbd', '→')), h('dd', 'expand, then enter'),
      h('dt', h('kbd', '←')), h('dd', 'collapse, then go to the parent'),
      h('dt', h('kbd', 'Enter')), h('dd', 'select'));
  }

  // Reloads run one at a time, in the order asked for, so that the answer to
  // an older request never lands after a newer one's.
  let reloads = Promise.resolve();
  function queued(fn) {
    const run = reloads.then(fn);
    reloads = run.catch(() => {});
    return run;
  }

  // reloadShown reloads what the tree shows, keeping what was open.
  async function reloadShown() {
    await loadTree();
    await tree.settled();
    if (mode === 'search') await search(searchQuery);
  }

  // refresh reloads the tree after the user's own write and selects and
  // focuses selectID.
  function refresh(selectID) {
    return queued(async () => {
      showError(null);
      await reloadShown();
      if (selectID !== undefined && selectID !== null) {
        const key = String(selectID);
        tree.reveal(key);
        if (tree.node(key)) {
          tree.select(key);
          tree.focus(key);
          return;
        }
      }
      showDetails(null);
    });
  }

  // own runs one of the user's writes and the refresh after it. Meanwhile
  // the version events are left to that refresh: following them too would
  // reload the tree twice and could take the selection away.
  async function own(write) {
    writing++;
    try {
      return await write();
    } finally {
      writing--;
      follow();
    }
  }

  // followChange reloads the tree after someone else's write, unless a reload
  // before it in the queue (the user's own write's) already shows that
  // version. The selection stays, its details are redrawn only if it
  // changed, and the focus and the messages stay where they are: the user
  // may be busy elsewhere.
  function followChange() {
    return queued(async () => {
      if (writing || liveVersion === shownVersion) return;
      await reloadShown();
      if (!selected) return;
      const node = tree.node(tree.selectedKey);
      if (!node) showDetails(null);
      else if (['name', 'parent_id', 'position', 'depth', 'child_count'].some((k) => node[k] !== selected[k])) showDetails(node);
      else selected = node;
    });
  }

  function addDialog(parent) {
    openDialog({
      title: parent ? `Add a category under “${parent.name}”` : 'Add a root category',
      submitLabel: 'Add',
      body: field('Name', {name: 'name', required: true, maxlength: '200'}),
      onSubmit: (form) => own(async () => {
        const body = {name: form.elements.name.value};
        if (parent) body.parent_id = parent.id;
        const {data} = await status.track('add', request('POST', API, {body}));
        if (parent) tree.expanded.add(String(parent.id));
        await refresh(data.id);
      }),
    });
  }

  function renameDialog(node) {
    openDialog({
      title: `Rename “${node.name}”`,
      submitLabel: 'Rename',
      body: field('New name', {name: 'name', required: true, maxlength: '200', value: node.name}),
      onSubmit: (form) => own(async () => {
        await status.track('rename', request('PATCH', `${API}/${node.id}`, {body: {name: form.elements.name.value}}));
        await refresh(node.id);
      }),
    });
  }

  function moveTo(node, parentID) {
    return own(async () => {
      await status.track('move', request('PATCH', `${API}/${node.id}`, {body: {parent_id: parentID}}));
      if (parentID !== null) tree.expanded.add(String(parentID));
      await refresh(node.id);
    });
  }

  // moveDialog picks the new parent by id, or by searching for it.
  function moveDialog(node) {
    let target = null; // {id, label}
    const chosen = h('p.chosen', {'aria-live': 'polite'}, 'No new parent chosen yet.');
    const picks = h('ul.picks', {'aria-label': 'Search results'});
    const asRoot = h('input', {type: 'checkbox', name: 'root', id: 'move-root'});
    const input = h('input', {
      id: 'move-target', name: 'target', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'an id, or part of a name', 'aria-describedby': 'move-help',
    });
    const choose = (id, label) => {
      target = {id, label};
      asRoot.checked = false;
      replace(chosen, 'New parent: ', h('strong', label), ` (#${id})`);
    };
    const lookup = debounce(async (text) => {
      if (!text || /^\d+$/.test(text)) {
        replace(picks);
        return;
      }
      try {
        const {data} = await status.track('search', get(`${API}/search${query({q: text, limit: 8})}`));
        replace(picks, data.matches.map((m) => h('li', h('button.pick', {
          type: 'button', dataset: {id: String(m.id)},
          onclick: () => {
            input.value = String(m.id);
            choose(m.id, m.path.map((s) => s.name).join(' › '));
            replace(picks);
          },
        }, m.path.map((s) => s.name).join(' › '), h('span.muted', ` #${m.id}`)))));
        if (!data.matches.length) replace(picks, h('li.muted', 'No match.'));
      } catch (err) {
        replace(picks, h('li', errorBox(err)));
      }
    }, 250);
    input.addEventListener('input', () => {
      const text = input.value.trim();
      if (/^\d+$/.test(text)) choose(Number(text), tree.node(text) ? tree.node(text).name : `category ${text}`);
      else {
        target = null;
        replace(chosen, 'No new parent chosen yet.');
      }
      lookup(text);
    });
    asRoot.addEventListener('change', () => {
      if (asRoot.checked) {
        target = null;
        input.value = '';
        replace(picks);
        replace(chosen, 'It will become a root.');
      }
    });
    openDialog({
      title: `Move “${node.name}”`,
      submitLabel: 'Move',
      body: [
        h('div.field', h('label', {for: 'move-target'}, 'New parent'), input,
          h('p.help#move-help', 'Type the parent’s id, or search for it by name and pick it.')),
        picks,
        h('label.check', asRoot, ' Make it a root category'),
        chosen,
      ],
      onSubmit: async () => {
        if (!target && !asRoot.checked) {
          throw new ApiError(0, {title: 'Choose a parent', detail: 'Pick the new parent, or make it a root.'});
        }
        await moveTo(node, asRoot.checked ? null : target.id);
      },
    });
  }

  function deleteDialog(node) {
    const cascade = h('input', {type: 'checkbox', name: 'cascade', id: 'delete-cascade'});
    openDialog({
      title: `Delete “${node.name}”?`,
      submitLabel: 'Delete',
      danger: true,
      body: [
        h('p', node.child_count > 0
          ? `It has ${plural(node.child_count, 'child', 'children')}. Without cascade, the server refuses to delete it.`
          : 'It has no children.'),
        h('label.check', cascade, ' Cascade: delete its whole subtree too'),
      ],
      onSubmit: (form) => own(async () => {
        const {data} = await status.track('delete', request('DELETE', `${API}/${node.id}${form.elements.cascade.checked ? '?cascade=true' : ''}`));
        tree.expanded.delete(String(node.id));
        await refresh(null);
        replace(errorSlot, h('p.notice.ok', {role: 'status'},
          data && data.deleted ? `Deleted ${plural(data.deleted, 'category', 'categories')}.` : `Deleted “${node.name}”.`));
      }),
    });
  }

  const onSearch = debounce((q) => search(q), 250);
  searchInput.addEventListener('input', () => onSearch(searchInput.value));
  searchInput.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      searchInput.value = '';
      onSearch.cancel();
      search('');
    }
  });

  loadTree().then(() => {
    if (searchInput.value.trim()) search(searchInput.value);
    follow();
  });
  // follow reloads the tree until it shows the announced version: one
  // reload at a time, however fast the versions come; a failed reload waits
  // for the next announcement.
  async function follow() {
    if (following || writing) return;
    following = true;
    try {
      while (alive && shownVersion !== null && liveVersion !== shownVersion) {
        const before = shownVersion;
        await followChange();
        if (shownVersion === before) break;
      }
    } finally {
      following = false;
    }
  }

  const closeEvents = subscribe(`${API}/events`, {
    onEvent: (ev) => {
      if (ev.event !== 'version') return;
      liveVersion = JSON.parse(ev.data).version;
      follow();
    },
  });

  return () => {
    alive = false;
    closeEvents();
    onSearch.cancel();
    if (searchAbort) searchAbort.abort();
  };
}
