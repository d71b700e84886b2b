// Pieces every view uses: its header with the status line, and modal dialogs.

import {h, replace} from './dom.js';
import {errorBox, StatusLine} from './api.js';

// viewHeader builds a view's title, lede and status line.
export function viewHeader(id, title, lede, extra) {
  const status = new StatusLine();
  const el = h('header.view-head',
    h('div.view-title', h('h1', {id}, title), lede && h('p.lede', lede)),
    extra,
    status.el);
  return {el, status};
}

// openDialog shows a modal form. onSubmit(form) may throw an ApiError: it is
// shown in the dialog, which stays open; on success the dialog closes.
// Escape and Cancel close it too. It returns the <dialog>.
export function openDialog({title, body, submitLabel = 'Save', danger = false, onSubmit, onClose}) {
  const errors = h('div.dialog-errors');
  const submit = h('button.btn', {type: 'submit', class: danger ? 'danger' : 'primary'}, submitLabel);
  const form = h('form.dialog-form', {method: 'dialog'},
    h('h2.dialog-title', title),
    body,
    errors,
    h('div.dialog-actions',
      h('button.btn.ghost', {type: 'button', value: 'cancel', onclick: () => dialog.close()}, 'Cancel'),
      submit));
  const dialog = h('dialog.modal', {'aria-label': title}, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(errors);
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(form);
      dialog.close();
    } catch (err) {
      replace(errors, errorBox(err));
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector('input:not([type=hidden]), select, textarea');
  if (first) first.focus();
  return dialog;
}

// field is a labelled input.
export function field(label, attrs) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  return h('div.field', h('label', {for: id}, label), h('input', {id, ...attrs}));
}
