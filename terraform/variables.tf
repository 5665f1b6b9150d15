variable "project_id" {
  description = "Google Cloud project that holds every resource of this deployment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the function, its build, the source bucket and the build trigger."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "name" {
  description = "Deployment name: the prefix of every resource name (function, accounts, secrets, bucket)."
  type        = string
  default     = "mcp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "labels" {
  description = "Extra labels put on every resource that takes labels."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys must start with a lowercase letter; keys and values may hold lowercase letters, digits, '_' and '-' (at most 63)."
  }
}

variable "public_base_url" {
  description = "Public https:// origin clients use, when a custom domain fronts the function; null uses the function's own run.app URL."
  type        = string
  default     = null

  validation {
    condition     = var.public_base_url == null || can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", var.public_base_url))
    error_message = "public_base_url must be an https:// origin without a path or trailing slash, e.g. https://mcp.example.com."
  }
}

variable "source_archive" {
  description = "Path of the function source archive built by scripts/package.py; null means build/function-source.zip at the repository root."
  type        = string
  default     = null
}

variable "function" {
  description = "Runtime shape of the Cloud Run function: runtime, entry point, toolset factory, resources, scaling, ingress."
  type = object({
    runtime         = optional(string, "python312")
    entry_point     = optional(string, "mcp")
    factory         = optional(string, "factory:FACTORY")
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 40)
    timeout_seconds = optional(number, 300)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
    ingress         = optional(string, "ALLOW_ALL")
  })
  default = {}

  validation {
    condition     = can(regex("^python3(1[1-9])$", var.function.runtime))
    error_message = "function.runtime must be python311 or newer (python311, python312, python313)."
  }
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.function.entry_point))
    error_message = "function.entry_point must be a Python function name defined in functions/main.py."
  }
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", var.function.factory))
    error_message = "function.factory must be module:attribute naming the ToolsetFactory, e.g. factory:FACTORY."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function.memory))
    error_message = "function.memory must be a size such as 512Mi or 2Gi."
  }
  validation {
    condition     = contains(["0.5", "1", "2", "4", "6", "8"], var.function.cpu)
    error_message = "function.cpu must be one of 0.5, 1, 2, 4, 6 or 8."
  }
  validation {
    condition     = var.function.concurrency >= 1 && var.function.concurrency <= 1000 && (var.function.concurrency == 1 || var.function.cpu != "0.5")
    error_message = "function.concurrency must be 1-1000, and more than 1 needs at least 1 CPU."
  }
  validation {
    condition     = var.function.timeout_seconds >= 1 && var.function.timeout_seconds <= 3600
    error_message = "function.timeout_seconds must be between 1 and 3600."
  }
  validation {
    condition     = var.function.min_instances >= 0 && var.function.max_instances >= 1 && var.function.min_instances <= var.function.max_instances
    error_message = "function.min_instances must be 0 or more and not above function.max_instances (at least 1)."
  }
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function.ingress)
    error_message = "function.ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "public_invoker" {
  description = "Let anyone reach the function (allUsers as Cloud Run invoker); the application authenticates every MCP request itself. false requires Google identity tokens or IAP in front (see docs/deploy.md)."
  type        = bool
  default     = true
}

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

variable "platform" {
  description = "The team's platform holding each user's downstream credentials (the token resolver): its credential API, whether the caller's token is forwarded, the credential-updated webhook, and the cache lifetime; a null url turns it off."
  type = object({
    url                  = optional(string)
    forward_user_token   = optional(bool, false)
    webhook              = optional(bool, true)
    credential_cache_ttl = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.platform.url == null || can(regex("^https://[^/]+", var.platform.url))
    error_message = "platform.url must be the https:// base URL of the platform's credential API."
  }
  validation {
    condition     = var.platform.credential_cache_ttl >= 1 && var.platform.credential_cache_ttl <= 3600
    error_message = "platform.credential_cache_ttl must be between 1 and 3600 seconds."
  }
}

variable "http" {
  description = "Edge limits: Host and Origin allowlists, the largest accepted request body, how long one tool call may run, the keep-alive interval of idle SSE streams, and whether tools may send requests (elicitation, sampling, roots) to handshake-era clients, whose replies are routed through Firestore (firestore) or refused (off)."
  type = object({
    allowed_hosts         = optional(list(string), [])
    allowed_origins       = optional(list(string), [])
    max_body_bytes        = optional(number, 1048576)
    tool_timeout_seconds  = optional(number, 60)
    sse_keepalive_seconds = optional(number, 15)
    backchannel           = optional(string, "firestore")
  })
  default = {}

  validation {
    condition     = contains(["firestore", "off"], var.http.backchannel)
    error_message = "http.backchannel must be firestore or off."
  }

  validation {
    condition     = var.http.sse_keepalive_seconds >= 1 && var.http.sse_keepalive_seconds <= 60
    error_message = "http.sse_keepalive_seconds must be between 1 and 60."
  }

  validation {
    condition     = var.http.tool_timeout_seconds >= 1 && var.http.tool_timeout_seconds <= 3600
    error_message = "http.tool_timeout_seconds must be between 1 and 3600."
  }

  validation {
    condition     = var.http.max_body_bytes >= 1024 && var.http.max_body_bytes <= 33554432
    error_message = "http.max_body_bytes must be between 1024 and 33554432 (32 MiB)."
  }
  validation {
    condition     = alltrue([for o in var.http.allowed_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "http.allowed_origins must be origins such as https://app.example.com (scheme and host, no path)."
  }
}

variable "cache" {
  description = "Per-instance caches: how many per-user MCP servers stay built, how long a user record is trusted, and how often secrets are reread."
  type = object({
    server_cache_size      = optional(number, 1024)
    user_cache_ttl         = optional(number, 30)
    secret_refresh_seconds = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.cache.server_cache_size >= 1 && var.cache.server_cache_size <= 1000000
    error_message = "cache.server_cache_size must be between 1 and 1000000."
  }
  validation {
    condition     = var.cache.user_cache_ttl >= 0 && var.cache.user_cache_ttl <= 3600
    error_message = "cache.user_cache_ttl must be between 0 and 3600 seconds."
  }
  validation {
    condition     = var.cache.secret_refresh_seconds >= 1 && var.cache.secret_refresh_seconds <= 86400
    error_message = "cache.secret_refresh_seconds must be between 1 and 86400 seconds."
  }
}

variable "log_level" {
  description = "Log level of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "firestore" {
  description = "Firestore database for user records: its id and location (a multi-region such as eur3 or nam5, or a region)."
  type = object({
    database_id = optional(string, "(default)")
    location    = optional(string, "eur3")
  })
  default = {}

  validation {
    condition     = var.firestore.database_id == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore.database_id))
    error_message = "firestore.database_id must be (default) or 4-63 lowercase letters, digits or hyphens starting with a letter."
  }
  validation {
    condition     = can(regex("^[a-z]+[0-9]*(-[a-z]+[0-9]+)?$", var.firestore.location))
    error_message = "firestore.location must be a Firestore location such as eur3, nam5 or europe-west1."
  }
}

variable "secret_locations" {
  description = "Regions Secret Manager keeps secret payloads in; empty lets Google choose (automatic replication)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.secret_locations : can(regex("^[a-z]+-[a-z]+[0-9]$", r))])
    error_message = "secret_locations must be region names such as europe-west1."
  }
}

variable "build_trigger" {
  description = "Cloud Build triggers: a push to a branch matching the branch regex runs the tests, and a test build of deploy_branch that passed starts the deploy (waiting for approval unless approval_required is false), which applies tfvars_file with its state in state_bucket; repository is the connected repository (2nd-gen resource name) and repository_type its host; a null repository means no triggers."
  type = object({
    repository        = optional(string)
    repository_type   = optional(string, "GITHUB")
    branch            = optional(string, "^main$")
    deploy_branch     = optional(string, "main")
    tfvars_file       = optional(string, "terraform/examples/team.tfvars")
    state_bucket      = optional(string)
    approval_required = optional(bool, true)
  })
  default = {}

  validation {
    condition     = var.build_trigger.repository == null || can(regex("^projects/[^/]+/locations/[^/]+/connections/[^/]+/repositories/[^/]+$", var.build_trigger.repository))
    error_message = "build_trigger.repository must be projects/P/locations/R/connections/C/repositories/NAME (a Cloud Build 2nd-gen repository)."
  }
  validation {
    condition     = var.build_trigger.repository == null || var.build_trigger.state_bucket != null
    error_message = "build_trigger.state_bucket is required with a trigger: the deploy step keeps Terraform state there."
  }
  validation {
    condition     = contains(["GITHUB", "GITLAB", "BITBUCKET_CLOUD", "BITBUCKET_SERVER"], var.build_trigger.repository_type)
    error_message = "build_trigger.repository_type must be GITHUB, GITLAB, BITBUCKET_CLOUD or BITBUCKET_SERVER (where the connected repository is hosted)."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.build_trigger.deploy_branch)) && can(regex(var.build_trigger.branch, var.build_trigger.deploy_branch))
    error_message = "build_trigger.deploy_branch must be a branch name that build_trigger.branch matches: only a test build of that branch starts a deploy."
  }
}

variable "alerting" {
  description = "Where alerts go and when they fire: notification channel ids, 5xx ratio and auth failures per 5 minutes."
  type = object({
    notification_channels  = optional(list(string), [])
    error_ratio_threshold  = optional(number, 0.05)
    auth_failure_threshold = optional(number, 100)
  })
  default = {}

  validation {
    condition     = var.alerting.error_ratio_threshold > 0 && var.alerting.error_ratio_threshold < 1
    error_message = "alerting.error_ratio_threshold must be a fraction between 0 and 1, e.g. 0.05 for 5%."
  }
  validation {
    condition     = var.alerting.auth_failure_threshold >= 1
    error_message = "alerting.auth_failure_threshold must be at least 1."
  }
}

# --- The edge: custom domain, load balancer, Cloud Armor, more regions, CMEK (all off by default) ---

variable "domain" {
  description = "Custom domain (e.g. mcp.example.com) served by a global external Application Load Balancer with a Google-managed certificate; null serves the function's run.app URL. When set, it is the public URL, the PRM resource and the token audience in every region."
  type        = string
  default     = null

  validation {
    condition     = var.domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase DNS name such as mcp.example.com (no scheme, port or path)."
  }
}

variable "regions" {
  description = "More regions to run the same function in, behind the one global address (needs domain). The function in var.region always exists; these are added."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]+-[a-z]+[0-9]$", r))])
    error_message = "regions must be region names such as us-central1 or asia-northeast1."
  }
}

variable "armor" {
  description = "Cloud Armor policy on the load balancer's backend (used when domain is set): per-client-IP throttle and ban thresholds, request size limit, preconfigured WAF rules, allow/deny source ranges."
  type = object({
    throttle_requests_per_minute = optional(number, 300)
    ban_requests_per_minute      = optional(number, 1200)
    ban_duration_seconds         = optional(number, 600)
    max_body_bytes               = optional(number, 1048576)
    waf_rules                    = optional(list(string), ["methodenforcement-v33-stable", "scannerdetection-v33-stable", "protocolattack-v33-stable", "sessionfixation-v33-stable"])
    allow_ranges                 = optional(list(string), [])
    deny_ranges                  = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.armor.throttle_requests_per_minute >= 1 && var.armor.ban_requests_per_minute >= var.armor.throttle_requests_per_minute
    error_message = "armor.throttle_requests_per_minute must be at least 1, and armor.ban_requests_per_minute at least the throttle threshold."
  }
  validation {
    condition     = var.armor.ban_duration_seconds >= 60 && var.armor.max_body_bytes >= 1024
    error_message = "armor.ban_duration_seconds must be at least 60 and armor.max_body_bytes at least 1024."
  }
  validation {
    condition     = alltrue([for r in concat(var.armor.allow_ranges, var.armor.deny_ranges) : can(cidrhost(r, 0))])
    error_message = "armor.allow_ranges and armor.deny_ranges must be CIDR ranges such as 203.0.113.0/24."
  }
  validation {
    condition     = length(var.armor.allow_ranges) <= 10 && length(var.armor.deny_ranges) <= 10
    error_message = "Cloud Armor takes at most 10 ranges per rule: list at most 10 allow_ranges and 10 deny_ranges."
  }
}

variable "cmek" {
  description = "Customer-managed encryption keys (Cloud KMS) for Firestore, Secret Manager and the source bucket; off uses Google-managed keys."
  type = object({
    enabled         = optional(bool, false)
    rotation_period = optional(string, "7776000s")
  })
  default = {}

  validation {
    condition     = can(regex("^[0-9]+s$", var.cmek.rotation_period)) && try(tonumber(trimsuffix(var.cmek.rotation_period, "s")) <= 7776000 && tonumber(trimsuffix(var.cmek.rotation_period, "s")) >= 86400, false)
    error_message = "cmek.rotation_period must be a number of seconds from 86400s (1 day) to 7776000s (90 days)."
  }
}

variable "oauth" {
  description = "The built-in authorization server (enabled by listing \"oauth\" in auth.providers): the upstream OpenID provider users sign in with, who may sign in, token lifetimes, and requests accepted per client address and minute."
  type = object({
    upstream_issuer     = optional(string, "https://accounts.google.com")
    upstream_client_id  = optional(string)
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

variable "rate_limits" {
  description = "Rate limits enforced across all instances: failed attempts per client address, requests per user, and calls per user per tool (N/second|minute|hour|day, or off); lease is how many units an instance takes per Firestore write."
  type = object({
    ip    = optional(string, "60/minute")
    user  = optional(string, "600/minute")
    tool  = optional(string, "120/minute")
    lease = optional(number, 10)
  })
  default = {}

  validation {
    condition = alltrue([
      for r in [var.rate_limits.ip, var.rate_limits.user, var.rate_limits.tool] :
      can(regex("^(off|[0-9]+ */ *([0-9]+ *)?(second|minute|hour|day)s?)$", r))
    ])
    error_message = "rate_limits.ip, .user and .tool must look like 60/minute, 5000/hour, 100/5 minutes or off."
  }
  validation {
    condition     = var.rate_limits.lease >= 1 && var.rate_limits.lease <= 1000
    error_message = "rate_limits.lease must be between 1 and 1000."
  }
}

variable "audit" {
  description = "Audit trail: each request's log line is the audit record; firestore = true also copies every record to the Firestore audit collection, deleted by TTL after retention_days days."
  type = object({
    firestore      = optional(bool, false)
    retention_days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = var.audit.retention_days >= 1 && var.audit.retention_days <= 3650 && floor(var.audit.retention_days) == var.audit.retention_days
    error_message = "audit.retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "tracing" {
  description = "OpenTelemetry traces: exporter = \"otlp\" sends one span per request (user as enduser.id) over OTLP/HTTP to otlp_endpoint, a collector the function can reach, keeping what sampler (and sample_ratio) select; \"none\" sends nothing."
  type = object({
    exporter      = optional(string, "none")
    otlp_endpoint = optional(string)
    service_name  = optional(string)
    sampler       = optional(string, "parentbased_always_on")
    sample_ratio  = optional(number, 1)
  })
  default = {}

  validation {
    condition     = contains(["none", "otlp"], var.tracing.exporter)
    error_message = "tracing.exporter must be none or otlp."
  }
  validation {
    condition     = var.tracing.exporter == "none" || can(regex("^https?://[^/?#]+(/[^?#]*)?$", var.tracing.otlp_endpoint))
    error_message = "tracing.otlp_endpoint must be the http(s) base URL of an OTLP/HTTP collector (e.g. https://otel-collector.example:4318) when tracing.exporter is otlp."
  }
  validation {
    condition     = var.tracing.service_name == null || can(regex("^[A-Za-z0-9._-]{1,100}$", var.tracing.service_name))
    error_message = "tracing.service_name must be 1-100 letters, digits, '.', '_' or '-'."
  }
  validation {
    condition     = contains(["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"], var.tracing.sampler)
    error_message = "tracing.sampler must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio."
  }
  validation {
    condition     = var.tracing.sample_ratio >= 0 && var.tracing.sample_ratio <= 1
    error_message = "tracing.sample_ratio must be between 0 and 1 (the share of traces the traceidratio samplers keep)."
  }
}

variable "request_state_key" {
  description = "Whether to create the secret whose key seals the requestState of multi-round-trip (input_required) calls, so a client's retry may reach any instance; turn on when a tool elicits, samples or lists roots."
  type        = bool
  default     = false
}
