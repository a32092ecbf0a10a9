// How a sign-in method is named, in the page's language: by its kind, and the parts
// of the server's English `label` it sends apart (`masked_email`, `name`,
// `phone_ending`). Shared by the login's "Try another method" list and the settings.

/** @typedef {import('gatehouse-api').components['schemas']} S */
/** @typedef {import('./dom.js').Message} Message */
/** @typedef {import('./i18n.js').Key} Key */

/**
 * The kind as a title ("Email on r***@example.com", "Authenticator app"), and the
 * user's name for it or what the server says about it (a phone's last digits).
 * @param {S['FactorView'] | S['FactorOfferView']} factor
 * @returns {{ kind: Message, name: Message | string | null }}
 */
export function describe(factor) {
  if (factor.kind === 'email_otp') {
    const to = factor.masked_email;
    return { kind: to ? ['kind.email_otp', { to }] : ['kind.email_otp_plain'], name: null };
  }
  const kind = /** @type {Message} */ ([/** @type {Key} */ (`kind.${factor.kind}`)]);
  if (factor.phone_ending) return { kind, name: ['mfa.phone_ending', { digits: factor.phone_ending }] };
  return { kind, name: factor.name ?? null };
}
