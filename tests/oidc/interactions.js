// Non-interactive sign-in and consent, for tests only.
//
// Login: the account named by the request's `login_hint`, or the server's
// default account; an unknown account ends the flow with access_denied.
// Consent: everything the client asked for is granted.

async function login(provider, req, res, details, state) {
  const accountId = details.params.login_hint || state.defaultAccount;
  if (!accountId || !state.accounts.has(accountId)) {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: accountId
        ? `no test account named "${accountId}"`
        : 'no login_hint and no default account configured',
    }, { mergeWithLastSubmission: false });
  }
  return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
}

async function consent(provider, req, res, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

export async function handleInteraction(provider, req, res, state) {
  const details = await provider.interactionDetails(req, res);
  switch (details.prompt.name) {
    case 'login':
      return login(provider, req, res, details, state);
    case 'consent':
      return consent(provider, req, res, details);
    default:
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: `test server cannot answer prompt ${details.prompt.name}`,
      }, { mergeWithLastSubmission: false });
  }
}
