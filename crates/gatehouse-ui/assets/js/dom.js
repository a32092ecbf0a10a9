// Small rendering helpers. Data from the API only ever lands in `textContent` or an
// attribute (never innerHTML), and translated text is set with `text`, which keeps the
// key on the element so a language switch can re-render it.

import { LOCALES, locale, setLocale, t } from './i18n.js';

/** @typedef {import('./i18n.js').Key} Key */
/** @typedef {import('./i18n.js').Param} Param */
/** @typedef {[Key, Record<string, Param>?]} Message a key and its params */

/**
 * The element with this id, of this type (the page's HTML promises it).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return node;
}

/** @param {string} id */
export const el = (id) => byId(id, HTMLElement);

/**
 * Sets a translated text (and remembers its key and params for `localise`).
 * @template {Element} T
 * @param {T} node
 * @param {Key} key
 * @param {Record<string, Param>} [params]
 * @returns {T}
 */
export function text(node, key, params) {
  node.setAttribute('data-i18n', key);
  if (params) node.setAttribute('data-i18n-params', JSON.stringify(params));
  else node.removeAttribute('data-i18n-params');
  node.textContent = t(key, params);
  return node;
}

/**
 * A new element. `attrs` become attributes (booleans: present or not); children are
 * nodes, or strings set as text (data, not translated: use `text` for that).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | boolean>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) node.setAttribute(name, '');
    else if (value !== false) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/**
 * Shows one step (a `<section class="step">` of the page) and hides the others. The
 * step's heading becomes the document title and, after a user's action, takes the
 * focus, so screen readers announce where they are and keyboard users start there.
 * @param {string} id
 * @param {{ focus?: boolean }} [options]
 */
export function showStep(id, { focus = true } = {}) {
  for (const section of document.querySelectorAll('section.step')) {
    if (section instanceof HTMLElement) section.hidden = section.id !== id;
  }
  clearAlert();
  const heading = el(id).querySelector('h1');
  const title = document.querySelector('title');
  if (heading && title) {
    const key = heading.getAttribute('data-i18n');
    const params = heading.getAttribute('data-i18n-params');
    if (key) title.setAttribute('data-i18n', key);
    if (params) title.setAttribute('data-i18n-params', params);
    else title.removeAttribute('data-i18n-params');
    title.textContent = heading.textContent;
  }
  if (focus && heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

/**
 * Marks a field wrong: the message goes to its `#<id>-error` element, which the field
 * names in `aria-describedby` while the error stands.
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {Key} key
 * @param {Record<string, Param>} [params]
 */
export function fieldError(input, key, params) {
  const error = el(`${input.id}-error`);
  text(error, key, params);
  error.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  const ids = new Set((input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
  ids.add(error.id);
  input.setAttribute('aria-describedby', [...ids].join(' '));
}

/** @param {HTMLInputElement | HTMLSelectElement} input */
export function clearFieldError(input) {
  const error = document.getElementById(`${input.id}-error`);
  if (error) {
    error.hidden = true;
    error.textContent = '';
    error.removeAttribute('data-i18n');
  }
  input.removeAttribute('aria-invalid');
  const ids = (input.getAttribute('aria-describedby') ?? '')
    .split(/\s+/)
    .filter((id) => id && id !== `${input.id}-error`);
  if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
  else input.removeAttribute('aria-describedby');
}

/** @param {HTMLFormElement} form */
export function clearErrors(form) {
  for (const input of form.querySelectorAll('input, select')) {
    if (input instanceof HTMLInputElement || input instanceof HTMLSelectElement) clearFieldError(input);
  }
}

/**
 * A message for the whole step, in the page's `role="alert"` region: announced at
 * once by screen readers. (The region is never `hidden`: a live region must be in
 * the accessibility tree before its text changes; CSS collapses it while empty.)
 * @param {Key} key
 * @param {Record<string, Param>} [params]
 */
export function alertMessage(key, params) {
  text(el('alert'), key, params);
}

export function clearAlert() {
  const region = document.getElementById('alert');
  if (!region) return;
  region.textContent = '';
  region.removeAttribute('data-i18n');
  region.removeAttribute('data-i18n-params');
}

/**
 * A polite progress note ("Waiting for your phone…") in the page's `role="status"`.
 * @param {Key | null} key null clears it
 * @param {Record<string, Param>} [params]
 */
export function status(key, params) {
  const region = el('status');
  if (key) text(region, key, params);
  else {
    region.textContent = '';
    region.removeAttribute('data-i18n');
  }
}

/**
 * Runs `work` with the form's buttons disabled and `aria-busy` set, so a double click
 * sends nothing twice.
 * @template T
 * @param {HTMLElement} scope
 * @param {() => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function busy(scope, work) {
  const buttons = [...scope.querySelectorAll('button')].filter((b) => !b.disabled);
  scope.setAttribute('aria-busy', 'true');
  for (const b of buttons) b.disabled = true;
  try {
    return await work();
  } finally {
    scope.removeAttribute('aria-busy');
    for (const b of buttons) b.disabled = false;
  }
}

/** The language switcher in the page's footer (`#languages`): each language named in
 * itself, with its own `lang` so screen readers pronounce it right. */
export function languageSwitcher() {
  const nav = document.getElementById('languages');
  if (!nav) return;
  const names = { en: 'English', ja: '日本語' };
  nav.setAttribute('data-i18n', 'common.language');
  nav.setAttribute('data-i18n-attr', 'aria-label');
  nav.setAttribute('aria-label', t('common.language'));
  const buttons = LOCALES.map((code) => {
    const button = h('button', { type: 'button', class: 'link', lang: code }, [names[code]]);
    button.addEventListener('click', () => setLocale(code, true));
    return button;
  });
  const pressed = () => {
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.lang === locale()));
  };
  document.addEventListener('gatehouse:locale', pressed);
  pressed();
  nav.replaceChildren(...buttons);
}
