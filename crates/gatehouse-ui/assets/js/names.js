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

/** What a scope lets the client see, in the page's language, or the scope itself.
 * @param {string} scope @returns {Message} */
export function scopeText(scope) {
  const known = /** @type {Record<string, Key>} */ ({
    openid: 'consent.scope.openid',
    email: 'consent.scope.email',
    profile: 'consent.scope.profile',
    offline_access: 'consent.scope.offline_access',
  });
  const key = known[scope];
  return key ? [key] : ['consent.scope.other', { scope }];
}
