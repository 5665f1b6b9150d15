# The same function in more regions (var.regions), behind the one global address (lb.tf).
#
# The function in var.region (function.tf) keeps its address, so adding regions to a running
# deployment only adds resources. Every region runs the same source with the same
# environment: the public URL, allowed hosts and PRM resource come from the domain, so a
# token's audience is valid in every region, and all regions share one Firestore database
# (firestore.location may be a multi-region such as eur3 or nam5).

resource "google_cloudfunctions2_function" "extra" {
  # checkov:skip=CKV_GCP_124:Extra regions exist only behind the load balancer; their ingress is ALLOW_INTERNAL_AND_GCLB (local.ingress), which this check does not evaluate.
  for_each = local.extra_regions

  project     = var.project_id
  name        = local.prefix
  location    = each.key
  description = "Authenticated, multi-tenant MCP server (${local.prefix}, ${each.key})."

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
      condition     = local.lb_enabled
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

# Same invoker as the primary region (function.tf): the load balancer's serverless backends
# call without a Google identity, and the application authenticates every request.
resource "google_cloud_run_v2_service_iam_member" "public_invoker_extra" {
  for_each = var.public_invoker ? local.extra_regions : toset([])

  project  = var.project_id
  location = each.key
  name     = google_cloudfunctions2_function.extra[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

locals {
  # Region -> the Cloud Run service under the function there.
  function_services = merge(
    { (var.region) = google_cloudfunctions2_function.this.service_config[0].service },
    { for r, f in google_cloudfunctions2_function.extra : r => f.service_config[0].service },
  )
}
