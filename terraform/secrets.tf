# Secret Manager secrets the function reads by name. Terraform creates the secrets and
# grants the runtime account access to each one; the values are added out of band
# (docs/deploy.md, "Fill the secrets"), so they never enter Terraform state.
#
# Key: the setting (environment variable) that carries the secret's id to the code.

locals {
  # Every secret setting the code knows, and whether this deployment's providers need it.
  secret_settings = {
    MCP_AUTH_JWT_HS_SECRET = {
      id          = "${local.prefix}-jwt-hs256-key"
      description = "HS256 key that signs and verifies access tokens (at least 32 random bytes)."
      needed      = contains(var.auth.providers, "jwt") && var.auth.jwt_jwks_url == null
    }
    MCP_AUTH_INTROSPECTION_SECRET = {
      id          = "${local.prefix}-introspection-client-secret"
      description = "Client secret this server presents to the token introspection endpoint."
      needed      = contains(var.auth.providers, "introspection")
    }
    MCP_AUTH_API_KEY_PEPPER_SECRET = {
      id          = "${local.prefix}-api-key-pepper"
      description = "Pepper mixed into API-key hashes (at least 32 random bytes)."
      needed      = contains(var.auth.providers, "api_key")
    }
    MCP_AUTH_PLATFORM_TOKEN_SECRET = {
      id          = "${local.prefix}-platform-token"
      description = "Service token this server presents to the platform's credential API."
      needed      = var.platform.url != null
    }
    MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET = {
      id          = "${local.prefix}-oauth-upstream-client-secret"
      description = "Client secret of this deployment at the upstream OpenID provider (the built-in authorization server)."
      needed      = contains(var.auth.providers, "oauth")
    }
    MCP_AUTH_OAUTH_SIGNING_KEY_SECRET = {
      id          = "${local.prefix}-oauth-signing-key"
      description = "EC P-256 private key (PEM) that signs the built-in authorization server's access tokens."
      needed      = contains(var.auth.providers, "oauth")
    }
    MCP_AUTH_REQUEST_STATE_KEY_SECRET = {
      id          = "${local.prefix}-request-state-key"
      description = "Key that seals the requestState of multi-round-trip (input_required) calls on every instance (at least 32 random bytes)."
      needed      = var.request_state_key
    }
    MCP_AUTH_CONNECTIONS_KEY_SECRET = {
      id          = "${local.prefix}-connections-key"
      description = "AES-256 key (32 random bytes) that encrypts connected accounts' tokens in Firestore; add a version to rotate."
      needed      = length(var.connections) > 0
    }
    MCP_AUTH_CONNECT_LINK_KEY_SECRET = {
      id          = "${local.prefix}-connect-link-key"
      description = "HMAC key (at least 32 random bytes) that signs the links users follow to connect an account."
      needed      = length(var.connections) > 0
    }
    MCP_AUTH_WEBHOOK_SECRET = {
      id          = "${local.prefix}-webhook-key"
      description = "HMAC key that signs the platform's credential-updated webhook calls."
      needed      = var.platform.url != null && var.platform.webhook
    }
  }

  # Each connected-account provider's OAuth client secret, named in MCP_AUTH_CONNECTIONS.
  connection_secrets = {
    for c in var.connections : "connection-${c.name}" => {
      id          = "${local.prefix}-connect-${replace(c.name, "_", "-")}-client-secret"
      description = "OAuth client secret of this deployment at ${c.name} (connected accounts)."
      labels      = { connection = replace(c.name, "_", "-") }
    }
  }

  # Only the secrets this deployment uses: the function refuses to start while a secret it
  # is configured with has no value.
  secrets = merge(
    { for setting, s in local.secret_settings : setting => merge(s, { labels = { setting = lower(setting) } }) if s.needed },
    local.connection_secrets,
  )
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value.id
  labels    = each.value.labels
  annotations = {
    description = each.value.description
  }

  replication {
    dynamic "auto" {
      for_each = length(var.secret_locations) == 0 ? [1] : []
      content {
        dynamic "customer_managed_encryption" {
          for_each = var.cmek.enabled ? [1] : []
          content {
            kms_key_name = local.cmek_key["secrets-global"]
          }
        }
      }
    }
    dynamic "user_managed" {
      for_each = length(var.secret_locations) > 0 ? [1] : []
      content {
        dynamic "replicas" {
          for_each = var.secret_locations
          content {
            location = replicas.value
            dynamic "customer_managed_encryption" {
              for_each = var.cmek.enabled ? [1] : []
              content {
                kms_key_name = local.cmek_key["secrets-${replicas.value}"]
              }
            }
          }
        }
      }
    }
  }

  depends_on = [google_project_service.this, google_kms_crypto_key_iam_member.agents]
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = google_secret_manager_secret.this

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}
