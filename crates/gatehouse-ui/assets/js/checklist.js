// The live password checklist (registration's "Set your password" and the settings
// page's password change): one line per rule of the server's `password_policy`,
// ticked as the user types, measured as the server measures. The server still
// judges on submit: `markViolations` shows its verdict.

import { h, text } from './dom.js';

/** @typedef {import('gatehouse-api').components['schemas']['PasswordRuleView']} PasswordRuleView */
/** @typedef {import('./i18n.js').Key} Key */

/** The rules this page can judge as the user types (and has texts for). */
const RULES = /** @type {const} */ ([
  'too_short', 'too_long', 'needs_uppercase', 'needs_lowercase', 'needs_digit', 'needs_special',
  'forbidden_character', 'mismatch',
]);

/**
 * How a password measures, as the server counts (crates/gatehouse-core password
 * policy): NFKC first; length in code points; Unicode upper/lowercase; digits 0–9;
 * special is anything else that is neither a letter nor a number nor a control.
 * @param {string} password
 */
export function measure(password) {
  const counts = { length: 0, uppercase: 0, lowercase: 0, digits: 0, special: 0, control: 0 };
  for (const ch of password.normalize('NFKC')) {
    counts.length += 1;
    if (/\p{Cc}/u.test(ch)) counts.control += 1;
    else if (/[0-9]/.test(ch)) counts.digits += 1;
    else if (/\p{Uppercase}/u.test(ch)) counts.uppercase += 1;
    else if (/\p{Lowercase}/u.test(ch)) counts.lowercase += 1;
    else if (!/[\p{Alphabetic}\p{N}]/u.test(ch)) counts.special += 1;
  }
  return counts;
}

/**
 * Whether the typed passwords meet one rule; null for a rule this page does not know
 * (a newer server's): the server judges it on submit.
 * @param {PasswordRuleView} rule @param {string} password @param {string} confirmation
 * @returns {boolean | null}
 */
export function meets(rule, password, confirmation) {
  if (!password) return false; // Nothing typed yet: nothing is ticked.
  const c = measure(password);
  const n = rule.value ?? 0;
  switch (rule.code) {
    case 'too_short': return c.length >= n;
    case 'too_long': return c.length <= n;
    case 'needs_uppercase': return c.uppercase >= n;
    case 'needs_lowercase': return c.lowercase >= n;
    case 'needs_digit': return c.digits >= n;
    case 'needs_special': return c.special >= n;
    case 'forbidden_character': return c.control === 0;
    case 'mismatch': return confirmation !== '' && password.normalize('NFKC') === confirmation.normalize('NFKC');
    default: return null;
  }
}

/**
 * Fills `list` (a `<ul class="checklist">`) with one line per rule: its text,
 * localised on the rule's code, and a visually hidden "(done)" / "(not yet)" for
 * screen readers.
 * @param {HTMLElement} list @param {PasswordRuleView[]} policy
 */
export function renderChecklist(list, policy) {
  list.replaceChildren(
    ...policy.map((rule) => {
      const label = h('span');
      const known = /** @type {readonly string[]} */ (RULES).includes(rule.code);
      // Localised on the code; a rule unknown to this page shows the server's text.
      if (known) text(label, /** @type {Key} */ (`rule.${rule.code}`), { n: rule.value ?? 0 });
      else label.textContent = rule.text;
      return h('li', { 'data-rule': rule.code }, [label, text(h('span', { class: 'visually-hidden' }), 'rule.unmet')]);
    }),
  );
}

/**
 * Ticks each rule the typed passwords meet.
 * @param {HTMLElement} list @param {PasswordRuleView[]} policy
 * @param {string} password @param {string} confirmation
 * @returns {boolean} whether every rule this page can judge holds
 */
export function updateChecklist(list, policy, password, confirmation) {
  let all = true;
  for (const item of list.children) {
    const rule = policy.find((r) => r.code === item.getAttribute('data-rule'));
    if (!rule) continue;
    const met = meets(rule, password, confirmation);
    if (met === false) all = false;
    item.classList.toggle('met', met === true);
    item.classList.remove('unmet-after-submit');
    const state = item.querySelector('.visually-hidden');
    if (state && met !== null) text(state, met ? 'rule.met' : 'rule.unmet');
  }
  return all;
}

/**
 * The server's verdict wins over the page's: marks every rule a 422
 * `password_policy` named in `violations`.
 * @param {HTMLElement} list @param {unknown} violations
 */
export function markViolations(list, violations) {
  const codes = Array.isArray(violations) ? violations : [];
  for (const item of list.children) {
    item.classList.toggle('unmet-after-submit', codes.includes(item.getAttribute('data-rule')));
  }
}
