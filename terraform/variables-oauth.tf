# The built-in authorization server (the oauth provider).

variable "oauth" {
  description = "The built-in authorization server (enabled by listing \"oauth\" in auth.providers): the upstream OpenID provider users sign in with and its preset, who may sign in, what upstream groups grant, token lifetimes, and requests accepted per client address and minute."
  type = object({
    upstream_preset    = optional(string, "auto")
    upstream_issuer    = optional(string, "https://accounts.google.com")
    upstream_client_id = optional(string)
    upstream_tenants   = optional(list(string), [])
    upstream_scopes    = optional(list(string), [])
    subject_claim      = optional(string)
    email_claim        = optional(string)
    groups_claim       = optional(string)
    github = optional(object({
      organization = optional(string)
      teams        = optional(list(string), [])
      api_url      = optional(string)
    }), {})
    group_grants = optional(map(object({
      toolsets = optional(list(string), [])
      scopes   = optional(list(string), [])
    })), {})
    allowed_domains     = optional(list(string), [])
    allowed_emails      = optional(list(string), [])
    require_user_record = optional(bool, false)
    access_token_ttl    = optional(number, 600)
    refresh_token_ttl   = optional(number, 2592000)
    registration_rate   = optional(number, 10)
    authorize_rate      = optional(number, 60)
    token_rate          = optional(number, 120)
  })
  default = {}

  validation {
    condition     = can(regex("^https://", var.oauth.upstream_issuer))
    error_message = "oauth.upstream_issuer must be an https URL."
  }
  validation {
    condition     = contains(["auto", "google", "entra", "okta", "auth0", "keycloak", "oidc", "github"], var.oauth.upstream_preset)
    error_message = "oauth.upstream_preset must be auto, google, entra, okta, auth0, keycloak, oidc or github."
  }
  validation {
    condition     = (var.oauth.github.organization == null || can(regex("^[A-Za-z0-9][A-Za-z0-9-]{0,38}$", coalesce(var.oauth.github.organization, "x")))) && alltrue([for t in var.oauth.github.teams : can(regex("^[a-z0-9][a-z0-9_-]{0,99}$", t))]) && (length(var.oauth.github.teams) == 0 || var.oauth.github.organization != null)
    error_message = "oauth.github.organization is an organization's login (letters, digits, -); oauth.github.teams are team slugs (lower-case letters, digits, - and _) and need the organization."
  }
  validation {
    condition     = var.oauth.github.api_url == null || can(regex("^https://", coalesce(var.oauth.github.api_url, "https://")))
    error_message = "oauth.github.api_url must be an https URL (a GitHub Enterprise Server's REST API, https://<host>/api/v3)."
  }
  validation {
    condition     = var.oauth.upstream_preset == "github" || (var.oauth.github.organization == null && length(var.oauth.github.teams) == 0 && var.oauth.github.api_url == null)
    error_message = "oauth.github is for the github upstream preset only."
  }
  validation {
    condition     = alltrue([for t in var.oauth.upstream_tenants : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", t))]) && (var.oauth.upstream_preset != "entra" || length(var.oauth.upstream_tenants) > 0)
    error_message = "oauth.upstream_tenants are Entra tenant ids (GUIDs, Entra admin center > Overview); the entra preset needs at least one."
  }
  validation {
    condition     = length(var.oauth.group_grants) <= 500 && alltrue([for g, grant in var.oauth.group_grants : length(g) >= 1 && length(g) <= 256 && length(grant.toolsets) <= 100 && length(grant.scopes) <= 100])
    error_message = "oauth.group_grants maps at most 500 groups (names of 1-256 characters), each to at most 100 toolsets and 100 scopes."
  }
  validation {
    condition     = var.oauth.access_token_ttl >= 60 && var.oauth.access_token_ttl <= 3600
    error_message = "oauth.access_token_ttl must be between 60 and 3600 seconds."
  }
  validation {
    condition     = var.oauth.refresh_token_ttl >= 3600 && var.oauth.refresh_token_ttl <= 7776000
    error_message = "oauth.refresh_token_ttl must be between 3600 and 7776000 seconds (90 days)."
  }
  validation {
    condition     = var.oauth.registration_rate >= 1 && var.oauth.registration_rate <= 1000
    error_message = "oauth.registration_rate must be between 1 and 1000 registrations per address and minute."
  }
  validation {
    condition     = var.oauth.authorize_rate >= 1 && var.oauth.authorize_rate <= 10000
    error_message = "oauth.authorize_rate must be between 1 and 10000 authorization requests per address and minute."
  }
  validation {
    condition     = var.oauth.token_rate >= 1 && var.oauth.token_rate <= 10000
    error_message = "oauth.token_rate must be between 1 and 10000 token requests per address and minute."
  }
}
