// The logout confirmation: `/ui/logout?logout_challenge=…`, where /end_session sends
// a browser that came without an id_token_hint (any page could have sent it, so the
// user decides). Either answer goes back to the application's post-logout URI.

import { ApiError, api, commonMessage, seg } from './api.js';
import { alertMessage, busy, byId, el, languageSwitcher, showStep, text } from './dom.js';
import { chooseLocale } from './i18n.js';

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {S['LogoutView']} LogoutView */
/** @typedef {S['LogoutDecision']} LogoutDecision */
/** @typedef {S['LogoutDone']} LogoutDone */
/** @template {keyof import('./api.js').Operations} Op @typedef {import('./api.js').ProblemCode<Op>} ProblemCode */

const challenge = new URLSearchParams(location.search).get('logout_challenge') ?? '';
const base = `/api/v1/logout/${seg(challenge)}`;

/** @type {LogoutView | null} */
let view = null;
/** @returns {import('./i18n.js').Param} */
const clientName = () => view?.client?.client_name ?? { key: 'common.the_application' };

/** @param {unknown} error */
function problem(error) {
  const code = error instanceof ApiError ? /** @type {ProblemCode<'get_logout' | 'answer_logout'>} */ (error.code) : null;
  if (code === 'logout_request_not_found' || code === 'logout_request_expired') {
    showStep('step-invalid');
    return;
  }
  if (!(error instanceof ApiError)) console.error(error);
  alertMessage(...commonMessage(error));
}

/** Sends the answer; follows the application's post-logout URI when it gave one.
 * @param {boolean} confirm @param {HTMLElement} scope */
async function answer(confirm, scope) {
  /** @type {LogoutDecision} */
  const body = { confirm };
  try {
    const done = /** @type {LogoutDone} */ (await busy(scope, () => api('POST', base, body)));
    if (done.redirect_to) {
      location.assign(done.redirect_to);
      return;
    }
    text(el('done-title'), done.logged_out ? 'logout.done_title' : 'logout.kept_title');
    el('done-text').hidden = !done.logged_out;
    if (done.logged_out) text(el('done-text'), 'logout.done');
    showStep('step-done');
  } catch (error) {
    problem(error);
  }
}

byId('sign-out', HTMLButtonElement).addEventListener('click', () => void answer(true, el('step-confirm')));
byId('stay', HTMLButtonElement).addEventListener('click', () => void answer(false, el('step-confirm')));
// Not signed in: nothing to decide, only the way back.
byId('return', HTMLButtonElement).addEventListener('click', () => void answer(true, el('step-signed-out')));

async function main() {
  chooseLocale();
  languageSwitcher();
  if (!challenge) return showStep('step-invalid', { focus: false });
  try {
    view = /** @type {LogoutView} */ (await api('GET', base));
  } catch (error) {
    return problem(error);
  }
  if (view.signed_in) {
    text(el('confirm-text'), 'logout.intro', { client: clientName() });
    showStep('step-confirm', { focus: false });
  } else {
    text(el('return'), 'logout.return', { client: clientName() });
    showStep('step-signed-out', { focus: false });
  }
}

void main();
