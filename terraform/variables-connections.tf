# Connected accounts: the downstream OAuth providers users connect to this server
# (lib/mcp_auth/connections/, docs/credentials.md "Connected accounts").

variable "connections" {
  description = "Downstream OAuth providers users connect their accounts to (type github or oauth2), each with this deployment's OAuth client id there; Terraform creates one secret per provider for its client secret, and the token vault's and connect links' keys."
  type = list(object({
    name          = string
    type          = optional(string)
    display_name  = optional(string)
    authorize_url = optional(string)
    token_url     = optional(string)
    revoke_url    = optional(string)
    api_url       = optional(string)
    scopes        = optional(list(string), [])
    client_id     = string
    pkce          = optional(bool, true)
  }))
  default = []

  validation {
    condition     = alltrue([for c in var.connections : can(regex("^[a-z0-9][a-z0-9_-]{0,63}$", c.name))])
    error_message = "Each connections[].name must be 1-64 lower-case letters, digits, '-' and '_', starting with a letter or digit."
  }
  validation {
    condition     = length(distinct([for c in var.connections : c.name])) == length(var.connections)
    error_message = "Each connections[].name must be unique."
  }
  validation {
    condition     = alltrue([for c in var.connections : c.type == null || contains(["github", "oauth2"], coalesce(c.type, "oauth2"))])
    error_message = "connections[].type must be github or oauth2."
  }
  validation {
    condition = alltrue([
      for c in var.connections : coalesce(c.type, c.name == "github" ? "github" : "oauth2") == "github" || (c.authorize_url != null && c.token_url != null)
    ])
    error_message = "An oauth2 connection needs authorize_url and token_url."
  }
  validation {
    condition = alltrue(flatten([
      for c in var.connections : [for u in [c.authorize_url, c.token_url, c.revoke_url, c.api_url] : u == null || can(regex("^https://[^/]+", u))]
    ]))
    error_message = "connections[] URLs must be https://."
  }
  validation {
    condition     = length(var.connections) <= 32
    error_message = "At most 32 connections."
  }
}

locals {
  # What MCP_AUTH_CONNECTIONS carries: the providers, each naming its client secret's id (never its value).
  connections_setting = length(var.connections) == 0 ? "" : jsonencode([
    for c in var.connections : merge(
      { for k, v in c : k => v if v != null },
      { client_secret = "${local.prefix}-connect-${replace(c.name, "_", "-")}-client-secret" },
    )
  ])
}
