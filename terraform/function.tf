# The MCP server: a Cloud Run function (google_cloudfunctions2_function).
#
# Why Cloud Functions (2nd gen) rather than a Cloud Run v2 service with function source:
# the Functions API owns the whole path from source archive to running revision - it runs
# the Python buildpack (requirements.txt, entry point), keeps the runtime patched through
# automatic base-image updates, and creates the Cloud Run service underneath. Terraform
# then manages one resource with a stable, long-lived schema instead of a build config,
# an image name and a service kept in step by hand. The service underneath is still Cloud
# Run, so concurrency, CPU, min/max instances and run.app URLs work as usual.

locals {
  # Where the function runs: "primary" is var.region; each of var.regions (behind the load
  # balancer, edge.tf) is keyed by its name. The primary's key is a word rather than its
  # region because moved blocks (moved.tf) must name it literally.
  function_regions = merge(
    { primary = var.region },
    { for r in local.extra_regions : r => r },
  )

  # Behind the load balancer the custom domain is the one Host clients use (in every region).
  allowed_hosts = local.lb_enabled ? distinct(concat([var.domain], var.http.allowed_hosts)) : var.http.allowed_hosts

  # Only the load balancer reaches the function when it is on.
  ingress = local.lb_enabled ? "ALLOW_INTERNAL_AND_GCLB" : var.function.ingress

  # Every setting the code reads from the environment (lib/mcp_auth/config.py). A test keeps
  # this map and the code's declared settings in step.
  function_env = merge(
    {
      GOOGLE_CLOUD_PROJECT                 = var.project_id
      MCP_AUTH_RESOURCE_URL                = local.mcp_url
      MCP_AUTH_FACTORY                     = var.function.factory
      MCP_AUTH_PROVIDERS                   = join(",", var.auth.providers)
      MCP_AUTH_JWT_ISSUER                  = var.auth.jwt_issuer == null ? "" : var.auth.jwt_issuer
      MCP_AUTH_JWT_AUDIENCE                = coalesce(var.auth.jwt_audience, local.mcp_url)
      MCP_AUTH_JWT_JWKS_URL                = var.auth.jwt_jwks_url == null ? "" : var.auth.jwt_jwks_url
      MCP_AUTH_JWT_JWKS_REFRESH_COOLDOWN   = tostring(var.auth.jwt_jwks_refresh_cooldown)
      MCP_AUTH_JWT_LEEWAY                  = tostring(var.auth.jwt_leeway)
      MCP_AUTH_JWT_USER_CLAIM              = var.auth.jwt_user_claim
      MCP_AUTH_INTROSPECTION_URL           = var.auth.introspection_url == null ? "" : var.auth.introspection_url
      MCP_AUTH_INTROSPECTION_CLIENT_ID     = var.auth.introspection_client_id == null ? "" : var.auth.introspection_client_id
      MCP_AUTH_AUTH_CACHE_TTL              = tostring(var.auth.verification_cache_ttl)
      MCP_AUTH_PLATFORM_URL                = var.platform.url == null ? "" : var.platform.url
      MCP_AUTH_PLATFORM_FORWARD_USER_TOKEN = tostring(var.platform.url != null && var.platform.forward_user_token)
      MCP_AUTH_CREDENTIAL_CACHE_TTL        = tostring(var.platform.credential_cache_ttl)
      MCP_AUTH_CONNECTIONS                 = local.connections_setting
      MCP_AUTH_FIRST_LOGIN                 = var.auth.first_login
      MCP_AUTH_DEFAULT_TOOLSETS            = join(",", var.auth.default_toolsets)
      MCP_AUTH_DEFAULT_SCOPES              = join(",", var.auth.default_scopes)
      MCP_AUTH_AUTHORIZATION_SERVERS       = join(",", var.auth.authorization_servers)
      MCP_AUTH_SCOPES_SUPPORTED            = join(",", var.auth.scopes_supported)
      MCP_AUTH_ALLOWED_HOSTS               = join(",", local.allowed_hosts)
      MCP_AUTH_ALLOWED_ORIGINS             = join(",", var.http.allowed_origins)
      MCP_AUTH_MAX_BODY_BYTES              = tostring(var.http.max_body_bytes)
      MCP_AUTH_TOOL_TIMEOUT                = tostring(var.http.tool_timeout_seconds)
      MCP_AUTH_SSE_KEEPALIVE               = tostring(var.http.sse_keepalive_seconds)
      MCP_AUTH_BACKCHANNEL                 = var.http.backchannel
      MCP_AUTH_SERVER_CACHE_SIZE           = tostring(var.cache.server_cache_size)
      MCP_AUTH_USER_CACHE_TTL              = tostring(var.cache.user_cache_ttl)
      MCP_AUTH_SECRET_REFRESH_SECONDS      = tostring(var.cache.secret_refresh_seconds)
      MCP_AUTH_FIRESTORE_DATABASE          = google_firestore_database.this.name
      MCP_AUTH_LOG_LEVEL                   = var.log_level
      MCP_AUTH_RATE_LIMIT_IP               = var.rate_limits.ip
      MCP_AUTH_RATE_LIMIT_USER             = var.rate_limits.user
      MCP_AUTH_RATE_LIMIT_TOOL             = var.rate_limits.tool
      MCP_AUTH_RATE_LIMIT_LEASE            = tostring(var.rate_limits.lease)
      MCP_AUTH_RATE_LIMIT_CREDIT           = tostring(var.rate_limits.credit)
      MCP_AUTH_OAUTH_UPSTREAM_ISSUER       = var.oauth.upstream_issuer
      MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID    = var.oauth.upstream_client_id == null ? "" : var.oauth.upstream_client_id
      MCP_AUTH_OAUTH_UPSTREAM_PRESET       = var.oauth.upstream_preset
      MCP_AUTH_OAUTH_UPSTREAM_TENANTS      = join(",", var.oauth.upstream_tenants)
      MCP_AUTH_OAUTH_UPSTREAM_SCOPES       = join(",", var.oauth.upstream_scopes)
      MCP_AUTH_OAUTH_SUBJECT_CLAIM         = var.oauth.subject_claim == null ? "" : var.oauth.subject_claim
      MCP_AUTH_OAUTH_EMAIL_CLAIM           = var.oauth.email_claim == null ? "" : var.oauth.email_claim
      MCP_AUTH_OAUTH_GROUPS_CLAIM          = var.oauth.groups_claim == null ? "" : var.oauth.groups_claim
      MCP_AUTH_OAUTH_GROUP_GRANTS          = jsonencode(var.oauth.group_grants)
      MCP_AUTH_OAUTH_GITHUB_ORG            = var.oauth.github.organization == null ? "" : var.oauth.github.organization
      MCP_AUTH_OAUTH_GITHUB_TEAMS          = join(",", var.oauth.github.teams)
      MCP_AUTH_OAUTH_GITHUB_API_URL        = var.oauth.github.api_url == null ? "" : var.oauth.github.api_url
      MCP_AUTH_OAUTH_ALLOWED_DOMAINS       = join(",", var.oauth.allowed_domains)
      MCP_AUTH_OAUTH_ALLOWED_EMAILS        = join(",", var.oauth.allowed_emails)
      MCP_AUTH_OAUTH_REQUIRE_USER_RECORD   = tostring(var.oauth.require_user_record)
      MCP_AUTH_OAUTH_ACCESS_TOKEN_TTL      = tostring(var.oauth.access_token_ttl)
      MCP_AUTH_OAUTH_REFRESH_TOKEN_TTL     = tostring(var.oauth.refresh_token_ttl)
      MCP_AUTH_OAUTH_REGISTRATION_RATE     = tostring(var.oauth.registration_rate)
      MCP_AUTH_OAUTH_AUTHORIZE_RATE        = tostring(var.oauth.authorize_rate)
      MCP_AUTH_OAUTH_TOKEN_RATE            = tostring(var.oauth.token_rate)
      MCP_AUTH_TRUSTED_PROXIES             = local.lb_enabled ? module.edge[0].address : ""
    },
    # Audit copy in Firestore and OpenTelemetry traces (lib/mcp_auth/store/audit.py, tracing.py).
    {
      MCP_AUTH_AUDIT_FIRESTORE      = tostring(var.audit.firestore)
      MCP_AUTH_AUDIT_RETENTION_DAYS = tostring(var.audit.retention_days)
      MCP_AUTH_OTEL_EXPORTER        = var.tracing.exporter
      OTEL_EXPORTER_OTLP_ENDPOINT   = var.tracing.otlp_endpoint == null ? "" : var.tracing.otlp_endpoint
      OTEL_SERVICE_NAME             = coalesce(var.tracing.service_name, local.prefix)
      OTEL_TRACES_SAMPLER           = var.tracing.sampler
      OTEL_TRACES_SAMPLER_ARG       = tostring(var.tracing.sample_ratio)
    },
    # Secret settings carry the secret's id (empty when this deployment does not use it);
    # the code reads the value from Secret Manager, so it never passes through Terraform.
    {
      for setting, s in local.secret_settings :
      setting => s.needed ? google_secret_manager_secret.this[setting].secret_id : ""
    },
  )
}

# One function per region, all alike: the same source, environment and runtime account. Every
# region answers under one public URL (the custom domain), so a token's audience is valid in
# each, and all share one Firestore database (firestore.location may be a multi-region such
# as eur3 or nam5).
resource "google_cloudfunctions2_function" "server" {
  # checkov:skip=CKV_GCP_124:MCP clients call from the public internet; the application authenticates every request, and ingress is ALLOW_INTERNAL_AND_GCLB (local.ingress) wherever the load balancer fronts the function, which this check does not evaluate.
  for_each = local.function_regions

  project  = var.project_id
  name     = local.prefix
  location = each.value
  description = (each.key == "primary"
    ? "Authenticated, multi-tenant MCP server (${local.prefix})."
    : "Authenticated, multi-tenant MCP server (${local.prefix}, ${each.value})."
  )

  build_config {
    runtime         = var.function.runtime
    entry_point     = var.function.entry_point
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }

    automatic_update_policy {}
  }

  service_config {
    service_account_email            = google_service_account.runtime.email
    available_memory                 = var.function.memory
    available_cpu                    = var.function.cpu
    max_instance_request_concurrency = var.function.concurrency
    timeout_seconds                  = var.function.timeout_seconds
    min_instance_count               = var.function.min_instances
    max_instance_count               = var.function.max_instances
    ingress_settings                 = local.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = local.function_env
  }

  lifecycle {
    precondition {
      condition     = each.key == "primary" || local.lb_enabled
      error_message = "regions needs domain: more regions are served only behind the custom domain's global load balancer."
    }
  }

  depends_on = [
    google_project_service.this,
    google_project_iam_member.runtime,
    google_project_iam_member.build,
    google_storage_bucket_iam_member.build_reads_source,
    google_secret_manager_secret_iam_member.runtime,
    google_kms_crypto_key_iam_member.agents,
  ]
}

# Anyone may reach the endpoint: every MCP request is authenticated by the application
# (bearer tokens, RFC 9728 metadata), which MCP clients need to discover how to sign in. The
# load balancer's serverless backends call without a Google identity too.
# With public_invoker = false only callers holding a Google identity token with
# roles/run.invoker (or an IAP-fronted load balancer) get through; see docs/deploy.md.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = var.public_invoker ? local.function_regions : {}

  project  = var.project_id
  location = each.value
  name     = google_cloudfunctions2_function.server[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

locals {
  # Region -> the Cloud Run service under the function there (the load balancer's backends).
  function_services = {
    for f in google_cloudfunctions2_function.server : f.location => f.service_config[0].service
  }
}
