"""The built-in OAuth 2.1 authorization server (enabled by the ``oauth`` provider).

MCP clients register (metadata document or RFC 7591), sign in through an upstream
OpenID provider (Google by default; locally, a page that asks for a user id) and receive short-lived JWT access tokens
issued by this deployment for its own resource URL; the same server object's
``verifier()`` checks them on the MCP endpoint with the same keys, in process. See docs/authorization-server.md.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mcp_auth.errors import ConfigError
from mcp_auth.oauth.server import AuthorizationServer, issuer_of

if TYPE_CHECKING:
    from mcp_auth.config import Settings
    from mcp_auth.oauth.groups import GroupGrants
    from mcp_auth.oauth.keys import SigningKeys
    from mcp_auth.oauth.upstream import SignInRules, SignInStep
    from mcp_auth.secrets import SecretStore
    from mcp_auth.store.firestore import ClientFactory

__all__ = ["AuthorizationServer", "build_authorization_server", "issuer_of"]


def _keys(settings: Settings, secrets: SecretStore | None) -> SigningKeys:
    from mcp_auth.oauth.keys import SigningKeys

    if settings.oauth_signing_key:  # given directly: local development (the settings refuse it on Cloud Run)
        pem = settings.oauth_signing_key.encode()

        async def given() -> list[bytes]:
            return [pem]

        return SigningKeys(given)
    if secrets is None or not settings.oauth_signing_key_secret:
        raise ConfigError("The oauth provider needs MCP_AUTH_OAUTH_SIGNING_KEY_SECRET and a Secret Manager project.")
    name = settings.oauth_signing_key_secret

    async def source() -> list[bytes]:
        return await secrets.versions(name, count=2)

    return SigningKeys(source)


def build_authorization_server(settings: Settings, secrets: SecretStore | None) -> AuthorizationServer:
    from mcp_auth.http import http_client
    from mcp_auth.oauth.store import OAuthStore
    from mcp_auth.store.firestore import firestore_client
    from mcp_auth.store.users import UserRepository

    firestore = functools.partial(firestore_client, project=settings.project, database=settings.firestore_database)
    store = OAuthStore.for_settings(project=settings.project, database=settings.firestore_database)
    sign_in: tuple[SignInStep, SignInRules]
    if settings.oauth_dev_sign_in:  # local development: a page asks for a user id (refused on Cloud Run)
        from mcp_auth.oauth.dev_signin import DevSignIn

        page = DevSignIn(
            issuer=issuer_of(settings.resource_url),
            store=store,
            users=UserRepository(firestore),
            create_users=settings.first_login == "create",
        )
        sign_in = page, page
        groups = None
    else:
        groups = _group_grants(settings, firestore)
        sign_in = _upstream(settings, secrets, firestore, groups)
    upstream, policy = sign_in
    return AuthorizationServer(
        resource=settings.resource_url,
        keys=_keys(settings, secrets),
        store=store,
        upstream=upstream,
        policy=policy,
        http=http_client,
        scopes=settings.scopes_supported,
        access_ttl=settings.oauth_access_token_ttl,
        refresh_ttl=settings.oauth_refresh_token_ttl,
        registration_rate=settings.oauth_registration_rate,
        authorize_rate=settings.oauth_authorize_rate,
        token_rate=settings.oauth_token_rate,
        allow_loopback=settings.oauth_allow_loopback,
        groups=groups,
    )


def _group_grants(settings: Settings, firestore: ClientFactory) -> GroupGrants:
    from mcp_auth.grants import configured_mapping
    from mcp_auth.oauth.groups import GroupGrants
    from mcp_auth.store.users import UserRepository

    return GroupGrants(
        configured=configured_mapping(settings.oauth_group_grants), client=firestore, users=UserRepository(firestore)
    )


def _upstream(
    settings: Settings, secrets: SecretStore | None, firestore: ClientFactory, groups: GroupGrants
) -> tuple[SignInStep, SignInRules]:
    """The upstream OpenID provider and the deployment's sign-in rules for its accounts."""
    from mcp_auth.http import http_client
    from mcp_auth.oauth.graph import GRAPH
    from mcp_auth.oauth.upstream import SignInPolicy, Upstream
    from mcp_auth.store.identities import IdentityLinks
    from mcp_auth.store.users import UserRepository

    if secrets is None or not settings.oauth_upstream_client_secret or not settings.oauth_upstream_client_id:
        raise ConfigError(
            "The oauth provider needs MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID and MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET."
        )
    secret_name = settings.oauth_upstream_client_secret

    async def client_secret() -> str:
        return (await secrets.get(secret_name)).decode().strip()

    preset = settings.upstream_preset()
    upstream: SignInStep
    if preset.name == "github":  # plain OAuth 2: the account is read from GitHub's API
        from mcp_auth.oauth.github import GitHubSignIn

        upstream = GitHubSignIn(
            base=settings.oauth_upstream_issuer,
            api=settings.github_api_url(),
            client_id=settings.oauth_upstream_client_id,
            client_secret=client_secret,
            http=http_client,
            preset=preset,
        )
    else:
        upstream = Upstream(
            issuer=settings.oauth_upstream_issuer,
            client_id=settings.oauth_upstream_client_id,
            client_secret=client_secret,
            http=http_client,
            scopes=" ".join(preset.scopes),
            tenants=preset.tenants,
            params=preset.authorization_params,
            graph=GRAPH if preset.name == "entra" else None,  # the groups of an account in too many for its ID token
        )
    policy = SignInPolicy(
        issuer=settings.oauth_upstream_issuer,
        links=IdentityLinks(firestore),
        domains=settings.oauth_allowed_domains,
        emails=settings.oauth_allowed_emails,
        require_user_record=settings.oauth_require_user_record,
        users=UserRepository(firestore),  # an admitted account gets a record with the defaults
        default_scopes=settings.default_scopes,
        default_toolsets=settings.default_toolsets,
        preset=preset,
        grants=groups,
    )
    return upstream, policy
