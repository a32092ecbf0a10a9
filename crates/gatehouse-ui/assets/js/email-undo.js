// Undoing an e-mail change: `/ui/email-undo?token=…` from the mail to the old
// address. Nothing happens on load (mail scanners open links); the user presses
// the button, which restores the old address and signs every session out.

import { ApiError, api, commonMessage } from './api.js';
import { alertMessage, busy, byId, el, languageSwitcher, showStep, text } from './dom.js';
import { chooseLocale } from './i18n.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['EmailUndoRequest']} EmailUndoRequest */
/** @typedef {S['EmailRestored']} EmailRestored */

const token = new URLSearchParams(location.search).get('token') ?? '';

/** @typedef {import('./api.js').ProblemCode<'undo_change'>} UndoProblem */

/** @type {Partial<Record<UndoProblem, import('./i18n.js').Key>>} */
const REFUSED = {
  undo_link_unknown: 'undo.unknown',
  undo_link_used: 'undo.used',
  undo_link_expired: 'undo.expired',
  email_taken: 'undo.email_taken',
};

/** @param {import('./i18n.js').Key} key */
function invalid(key) {
  text(el('invalid-text'), key);
  showStep('step-invalid');
}

byId('restore', HTMLButtonElement).addEventListener('click', async () => {
  /** @type {EmailUndoRequest} */
  const body = { token };
  try {
    const done = /** @type {EmailRestored} */ (await busy(el('step-confirm'), () => api('POST', '/api/v1/account/email/undo', body)));
    text(el('done-text'), 'undo.done', { email: done.email });
    showStep('step-done');
  } catch (error) {
    const key = error instanceof ApiError ? REFUSED[/** @type {UndoProblem} */ (error.code)] : undefined;
    if (key) return invalid(key);
    if (!(error instanceof ApiError)) console.error(error);
    alertMessage(...commonMessage(error));
  }
});

chooseLocale();
languageSwitcher();
if (!token) invalid('undo.unknown');
