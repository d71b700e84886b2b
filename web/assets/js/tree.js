// TreeView renders canopy tree nodes ({id, kind, name, child_count,
// children, …}) as a WAI-ARIA tree: role=tree/treeitem/group, aria-expanded,
// aria-level/setsize/posinset, aria-selected, and a roving tabindex (one item
// is tabbable; arrow keys move the focus):
//   Up/Down     previous/next visible item      Home/End  first/last item
//   Right       expand, or enter the first child
//   Left        collapse, or go to the parent
//   Enter/Space select
// A node whose children were cut off by the request's depth (child_count > 0
// and no children) is loaded with loadChildren when it is expanded.

import {h} from './dom.js';

const DRAG_TYPE = 'application/x-canopy-node';

export class TreeView {
  // options: label, key(node), renderLabel(node), loadChildren(node) → Promise<node with children>,
  // onSelect(node), onError(err), canDrag() → bool, onDrop(source, target).
  constructor(options) {
    this.opts = {key: (n) => String(n.id), renderLabel: (n) => n.name, ...options};
    this.el = h('ul.tree', {role: 'tree', 'aria-label': options.label, onkeydown: (e) => this.onKey(e)});
    this.entries = new Map(); // key → {node, parent (key|null), level, pos, size}
    this.expanded = new Set();
    this.loading = new Set();
    this.inflight = new Set();
    this.roots = [];
    this.selectedKey = null;
    this.focusKey = null;
    this.dragKey = null;
  }

  // setRoots shows a new forest. Expanded nodes stay expanded (cut-off ones
  // are loaded again); expandAll expands every node that has children.
  setRoots(roots, {expandAll = false} = {}) {
    this.roots = roots;
    this.entries.clear();
    const index = (nodes, parent, level) => {
      nodes.forEach((node, i) => {
        const key = this.opts.key(node);
        this.entries.set(key, {node, parent, level, pos: i + 1, size: nodes.length});
        if (expandAll && node.children && node.children.length) this.expanded.add(key);
        index(node.children || [], key, level + 1);
      });
    };
    index(roots, null, 1);
    const items = roots.map((n) => this.renderItem(n));
    this.el.replaceChildren(...items);
    if (!roots.length) this.el.append(h('li.tree-empty', {role: 'none'}, this.opts.empty || 'Nothing here yet.'));
    this.syncTabindex();
  }

  node(key) {
    const e = this.entries.get(key);
    return e && e.node;
  }

  itemEl(key) {
    return this.el.querySelector(`li[role=treeitem][data-key="${CSS.escape(key)}"]`);
  }

  cutOff(node) {
    return node.child_count > 0 && (!node.children || node.children.length === 0);
  }

  hasChildren(node) {
    return node.child_count > 0 || (node.children && node.children.length > 0);
  }

  renderItem(node) {
    const key = this.opts.key(node);
    const entry = this.entries.get(key);
    const expandable = this.hasChildren(node);
    const expanded = expandable && this.expanded.has(key);
    const loading = this.loading.has(key);
    const row = h('div.row', {
      draggable: this.opts.canDrag && this.opts.canDrag(node) ? 'true' : null,
      onclick: (e) => {
        if (e.target.closest('.twisty')) this.toggle(key);
        else this.select(key);
        this.focus(key);
      },
      ondblclick: (e) => {
        if (!e.target.closest('.twisty')) this.toggle(key);
      },
      ondragstart: (e) => this.onDragStart(e, key),
      ondragend: () => this.onDragEnd(),
      ondragover: (e) => this.onDragOver(e, key),
      ondragleave: (e) => e.currentTarget.classList.remove('drop-target'),
      ondrop: (e) => this.onDropOn(e, key),
    },
    h('span.twisty', {'aria-hidden': 'true', class: expandable ? '' : 'leaf'}),
    h('span.node-label', this.opts.renderLabel(node)));
    const li = h('li', {
      role: 'treeitem',
      tabindex: '-1',
      dataset: {key, id: String(node.id), kind: node.kind || ''},
      'aria-level': String(entry.level),
      'aria-setsize': String(entry.size),
      'aria-posinset': String(entry.pos),
      'aria-selected': key === this.selectedKey ? 'true' : 'false',
      'aria-expanded': expandable ? String(expanded) : null,
      'aria-busy': loading ? 'true' : null,
    }, row);
    if (expanded) {
      if (loading || this.cutOff(node)) {
        li.append(h('ul', {role: 'group'}, h('li.tree-loading', {role: 'none'}, h('span.spinner', {'aria-hidden': 'true'}), 'Loading…')));
        li.setAttribute('aria-busy', 'true');
        if (!loading) this.load(key);
      } else {
        li.append(h('ul', {role: 'group'}, node.children.map((c) => this.renderItem(c))));
      }
    }
    return li;
  }

  // rerender replaces a node's item (and its subtree) in place, keeping the focus.
  rerender(key) {
    const old = this.itemEl(key);
    if (!old) return;
    const hadFocus = old.contains(document.activeElement);
    old.replaceWith(this.renderItem(this.node(key)));
    this.syncTabindex();
    if (hadFocus) this.focus(this.entries.has(this.focusKey) ? this.focusKey : key);
  }

  // graft replaces node key's children with those of subtree (a fresh copy
  // of the same node from the API), indexing the new descendants.
  graft(key, subtree) {
    const entry = this.entries.get(key);
    if (!entry) return;
    const drop = (nodes) => nodes.forEach((n) => {
      this.entries.delete(this.opts.key(n));
      drop(n.children || []);
    });
    drop(entry.node.children || []);
    const {children, ...fields} = subtree;
    Object.assign(entry.node, fields, {children: children || []});
    const index = (nodes, parent, level) => nodes.forEach((n, i) => {
      const k = this.opts.key(n);
      this.entries.set(k, {node: n, parent, level, pos: i + 1, size: nodes.length});
      index(n.children || [], k, level + 1);
    });
    index(entry.node.children, key, entry.level + 1);
  }

  // load fetches the children of a cut-off node; the item shows a spinner
  // meanwhile. It starts after the current task, once the item is in place.
  load(key) {
    if (this.loading.has(key) || !this.opts.loadChildren) return;
    this.loading.add(key);
    const done = (async () => {
      await null;
      try {
        const subtree = await this.opts.loadChildren(this.node(key));
        this.graft(key, subtree);
      } catch (err) {
        this.expanded.delete(key);
        if (this.opts.onError) this.opts.onError(err);
      } finally {
        this.loading.delete(key);
        this.rerender(key);
      }
    })();
    this.inflight.add(done);
    done.finally(() => this.inflight.delete(done));
  }

  // settled resolves once no children are loading, those that loading more starts included.
  async settled() {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  toggle(key) {
    if (this.expanded.has(key)) this.collapse(key);
    else this.expand(key);
  }

  expand(key) {
    const node = this.node(key);
    if (!node || !this.hasChildren(node) || this.expanded.has(key)) return;
    this.expanded.add(key);
    this.rerender(key);
  }

  collapse(key) {
    if (!this.expanded.delete(key)) return;
    if (this.focusKey && this.isInside(this.focusKey, key)) this.focusKey = key;
    this.rerender(key);
  }

  // reveal expands every ancestor of key (those already loaded).
  reveal(key) {
    const chain = [];
    for (let e = this.entries.get(key); e && e.parent !== null; e = this.entries.get(e.parent)) chain.unshift(e.parent);
    for (const k of chain) {
      if (!this.expanded.has(k)) this.expand(k);
    }
  }

  isInside(key, ancestor) {
    for (let e = this.entries.get(key); e; e = this.entries.get(e.parent)) {
      if (e.parent === ancestor) return true;
      if (e.parent === null) break;
    }
    return false;
  }

  select(key) {
    const node = this.node(key);
    if (!node) return;
    this.selectedKey = key;
    for (const li of this.el.querySelectorAll('li[role=treeitem][aria-selected=true]')) li.setAttribute('aria-selected', 'false');
    const li = this.itemEl(key);
    if (li) li.setAttribute('aria-selected', 'true');
    if (this.opts.onSelect) this.opts.onSelect(node);
  }

  focus(key) {
    const li = this.itemEl(key);
    if (!li) return;
    this.focusKey = key;
    this.syncTabindex();
    li.focus();
    li.querySelector('.row').scrollIntoView({block: 'nearest'});
  }

  // visible is every item the user can see, in order.
  visible() {
    return [...this.el.querySelectorAll('li[role=treeitem]')];
  }

  // syncTabindex makes exactly one item tabbable: the focused one, else the selected one, else the first.
  syncTabindex() {
    const items = this.visible();
    const pick = [this.focusKey, this.selectedKey].map((k) => k && this.itemEl(k)).find(Boolean) || items[0];
    for (const li of items) li.tabIndex = li === pick ? 0 : -1;
  }

  onKey(e) {
    const li = e.target.closest('li[role=treeitem]');
    if (!li || e.altKey || e.ctrlKey || e.metaKey) return;
    const key = li.dataset.key;
    const node = this.node(key);
    const items = this.visible();
    const i = items.indexOf(li);
    const go = (el) => el && this.focus(el.dataset.key);
    switch (e.key) {
      case 'ArrowDown':
        go(items[i + 1]);
        break;
      case 'ArrowUp':
        go(items[i - 1]);
        break;
      case 'Home':
        go(items[0]);
        break;
      case 'End':
        go(items[items.length - 1]);
        break;
      case 'ArrowRight':
        if (!this.hasChildren(node)) break;
        if (!this.expanded.has(key)) this.expand(key);
        else go(li.querySelector(':scope > ul > li[role=treeitem]'));
        break;
      case 'ArrowLeft':
        if (this.expanded.has(key)) this.collapse(key);
        else go(li.parentElement.closest('li[role=treeitem]'));
        break;
      case 'Enter':
      case ' ':
        this.select(key);
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  onDragStart(e, key) {
    if (!this.opts.canDrag || !this.opts.canDrag(this.node(key))) return;
    e.stopPropagation();
    this.dragKey = key;
    e.dataTransfer.setData(DRAG_TYPE, key);
    e.dataTransfer.setData('text/plain', this.node(key).name);
    e.dataTransfer.effectAllowed = 'move';
    this.el.classList.add('dragging');
  }

  onDragEnd() {
    this.dragKey = null;
    this.el.classList.remove('dragging');
    for (const r of this.el.querySelectorAll('.drop-target')) r.classList.remove('drop-target');
  }

  onDragOver(e, key) {
    if (!this.dragKey || this.dragKey === key) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    e.currentTarget.classList.add('drop-target');
  }

  onDropOn(e, key) {
    e.preventDefault();
    e.currentTarget.classList.remove('drop-target');
    const source = this.dragKey && this.node(this.dragKey);
    this.onDragEnd();
    if (source && this.opts.onDrop && this.opts.key(source) !== key) this.opts.onDrop(source, this.node(key));
  }
}
