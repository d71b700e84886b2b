// canopy's front end: a hash router over four views, and the token box.
// A route is #/<view>[?key=value…]; a view reads its parameters from it and
// writes them back (without a new history entry) as the user changes them.

import {getToken, setToken} from './api.js';
import * as categories from './categories.js';
import * as hospital from './hospital.js';
import * as articles from './articles.js';
import * as settlements from './settlements.js';

const views = {categories, hospital, articles, settlements};
const main = document.getElementById('main');
let current = null; // {name, unmount}

// route is the current hash as {name, params}.
function route() {
  const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const name = Object.hasOwn(views, path) ? path : 'categories';
  return {name, params: new URLSearchParams(search)};
}

// setParams records a view's state in the hash without navigating.
export function setParams(params) {
  const {name} = route();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', `#/${name}${s ? `?${s}` : ''}`);
}

function render() {
  const {name, params} = route();
  if (current && current.unmount) current.unmount();
  for (const a of document.querySelectorAll('nav.views a')) {
    if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = document.createElement('section');
  root.className = `view view-${name}`;
  root.setAttribute('aria-labelledby', `${name}-title`);
  main.replaceChildren(root);
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · canopy`;
  current = {name, unmount: views[name].mount(root, {params, setParams, token: getToken})};
}

function renderToken() {
  const has = Boolean(getToken());
  const input = document.getElementById('token-input');
  document.getElementById('token-set').hidden = !has;
  input.hidden = has;
  document.querySelector('#token-form button[type=submit]').hidden = has;
  document.querySelector('.token-label').hidden = has;
  if (!has) input.value = '';
}

document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = document.getElementById('token-input').value.trim();
  if (value) setToken(value);
});
document.getElementById('token-forget').addEventListener('click', () => {
  setToken('');
  document.getElementById('token-input').focus();
});
window.addEventListener('canopy:token', () => {
  renderToken();
  render();
});
window.addEventListener('storage', (e) => {
  if (e.key === 'canopy.token') {
    renderToken();
    render();
  }
});
window.addEventListener('hashchange', render);

renderToken();
render();
