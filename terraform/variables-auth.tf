# Authentication: the provider chain, token verification, and what protected-resource
# metadata advertises.

variable "auth" {
  description = "How the function authenticates requests: provider chain, JWT verification, token introspection, and what protected-resource metadata advertises."
  type = object({
    providers                 = optional(list(string), ["jwt"])
    jwt_issuer                = optional(string)
    jwt_audience              = optional(string)
    jwt_jwks_url              = optional(string)
    jwt_jwks_refresh_cooldown = optional(number, 30)
    jwt_leeway                = optional(number, 30)
    jwt_user_claim            = optional(string, "sub")
    introspection_url         = optional(string)
    introspection_client_id   = optional(string)
    verification_cache_ttl    = optional(number, 300)
    authorization_servers     = optional(list(string), [])
    scopes_supported          = optional(list(string), [])
    first_login               = optional(string, "reject")
    default_toolsets          = optional(list(string), [])
    default_scopes            = optional(list(string), [])
  })

  validation {
    condition     = length(var.auth.providers) > 0 && alltrue([for p in var.auth.providers : contains(["jwt", "introspection", "api_key", "oauth"], p)])
    error_message = "auth.providers must list at least one of jwt, introspection, api_key, oauth (dev is for local development and refused on Cloud Run)."
  }
  validation {
    condition     = !contains(var.auth.providers, "jwt") || can(regex("^https://", var.auth.jwt_issuer))
    error_message = "auth.jwt_issuer must be the https:// issuer URL found in the tokens' iss claim when the jwt provider is on."
  }
  validation {
    condition     = var.auth.jwt_jwks_url == null || can(regex("^https://", var.auth.jwt_jwks_url))
    error_message = "auth.jwt_jwks_url must be an https:// URL (the issuer's JWKS); leave it null to verify HS256 tokens with a key from Secret Manager."
  }
  validation {
    condition     = !contains(var.auth.providers, "introspection") || (can(regex("^https://", var.auth.introspection_url)) && try(length(var.auth.introspection_client_id) > 0, false))
    error_message = "The introspection provider needs auth.introspection_url (https://) and auth.introspection_client_id."
  }
  validation {
    condition     = var.auth.jwt_leeway >= 0 && var.auth.jwt_leeway <= 60 && var.auth.jwt_jwks_refresh_cooldown >= 0 && var.auth.jwt_jwks_refresh_cooldown <= 3600
    error_message = "auth.jwt_leeway must be 0-60 seconds and auth.jwt_jwks_refresh_cooldown 0-3600 seconds."
  }
  validation {
    condition     = var.auth.verification_cache_ttl >= 1 && var.auth.verification_cache_ttl <= 3600
    error_message = "auth.verification_cache_ttl must be between 1 and 3600 seconds."
  }
  validation {
    condition     = alltrue([for u in var.auth.authorization_servers : can(regex("^https://", u))])
    error_message = "auth.authorization_servers must be https:// issuer URLs."
  }
  validation {
    condition     = contains(["create", "reject"], var.auth.first_login)
    error_message = "auth.first_login must be create (make a user record on first sign-in) or reject."
  }
}
