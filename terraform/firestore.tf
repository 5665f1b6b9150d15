# Firestore (native mode) holds user records at users/{uid} and everything below them.
#
# Composite indexes and TTL policies live in the two lists below: a feature whose query
# needs an index, or whose collection expires documents, adds one entry here, and the
# tests run the same query against the emulator.

locals {
  # The store's own queries declare their indexes next to the code (lib/mcp_auth/store/indexes.json),
  # where tests/store/test_indexes.py runs the same queries on the emulator.
  store_indexes = jsondecode(file("${path.module}/../lib/mcp_auth/store/indexes.json"))

  # { collection, fields = [{ field_path, order = "ASCENDING"|"DESCENDING" or array_config = "CONTAINS" }],
  #   query_scope = "COLLECTION"|"COLLECTION_GROUP" }
  firestore_indexes = [
    for i in local.store_indexes.composite_indexes :
    { collection = i.collection, query_scope = i.query_scope, fields = i.fields }
  ]

  # { collection, field }: documents are deleted some time after the timestamp in `field`.
  firestore_ttl_fields = [
    { collection = "credential_events", field = "expire_at" }, # webhook deliveries already applied
    { collection = "rate_limits", field = "expires_at" },      # rate-limit windows
    { collection = "oauth_clients", field = "expires_at" },    # built-in authorization server state
    { collection = "oauth_requests", field = "expires_at" },
    { collection = "oauth_consents", field = "expires_at" },
    { collection = "oauth_codes", field = "expires_at" },
    { collection = "oauth_refresh_tokens", field = "expires_at" },
    { collection = "oauth_families", field = "expires_at" },
    { collection = "oauth_rate", field = "expires_at" },
    { collection = "audit", field = "expire_at" }, # audit copies (MCP_AUTH_AUDIT_FIRESTORE), kept audit.retention_days
    # tasks extension (lib/mcp_auth/tasks): users/{uid}/mcp_tasks, each kept for its ttlMs
    { collection = "mcp_tasks", field = "expires_at" },
    # replies to server requests (lib/mcp_auth/backchannel): users/{uid}/mcp_replies, kept the tool deadline + 1 min
    { collection = "mcp_replies", field = "expire_at" },
    # record changes announced to every instance (lib/mcp_auth/store/revocations.py), kept a day
    { collection = "revocations", field = "expire_at" },
    # used connect links (lib/mcp_auth/connections/links.py): users/{uid}/connect_links, kept a day past expiry
    { collection = "connect_links", field = "expire_at" },
  ]
}

resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = var.firestore.database_id
  location_id                       = var.firestore.location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  dynamic "cmek_config" {
    for_each = var.cmek.enabled ? [1] : []
    content {
      kms_key_name = local.cmek_key["firestore"]
    }
  }

  depends_on = [google_project_service.this, google_kms_crypto_key_iam_member.agents]
}

resource "google_firestore_index" "this" {
  for_each = { for i in local.firestore_indexes : "${i.collection}:${join(",", [for f in i.fields : f.field_path])}" => i }

  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = try(each.value.query_scope, "COLLECTION")

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.field_path
      order        = try(fields.value.order, null)
      array_config = try(fields.value.array_config, null)
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each = { for t in local.firestore_ttl_fields : "${t.collection}:${t.field}" => t }

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
}
