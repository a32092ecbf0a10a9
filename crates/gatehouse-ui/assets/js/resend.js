// "I need help with registration": asks for a new registration link. The server
// answers the same for every address (202, before any lookup), so the page does too:
// it never tells whether an address has an account.

import { ApiError, api, commonMessage } from './api.js';
import { alertMessage, busy, byId, clearAlert, clearErrors, clearFieldError, el, fieldError, languageSwitcher, showStep, text } from './dom.js';
import { chooseLocale } from './i18n.js';

/** @typedef {import('gatehouse-api').components['schemas']['ResendRequest']} ResendRequest */

const form = byId('resend-form', HTMLFormElement);
const input = byId('email', HTMLInputElement);

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(form);
  clearAlert();
  const email = input.value.trim();
  if (!email) {
    fieldError(input, 'login.identifier_required');
    input.focus();
    return;
  }
  /** @type {ResendRequest} */
  const body = { email };
  try {
    await busy(form, () => api('POST', '/api/v1/registration/resend', body));
    text(el('sent-text'), 'resend.sent_text', { email });
    showStep('step-sent');
  } catch (error) {
    if (!(error instanceof ApiError)) console.error(error);
    alertMessage(...commonMessage(error));
  }
});

input.addEventListener('input', () => clearFieldError(input));

byId('again', HTMLButtonElement).addEventListener('click', () => {
  form.reset();
  showStep('step-request', { focus: false });
  input.focus();
});

chooseLocale();
languageSwitcher();
// Arriving from an expired link or the login page: straight to the field.
input.focus();
