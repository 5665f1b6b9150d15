# Project APIs the deployment uses. They stay enabled on destroy: other workloads in the
# project may depend on them.

locals {
  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "this" {
  for_each = local.services

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}

# APIs only the optional features use: Compute Engine for the custom domain's load balancer
# (edge.tf), Cloud KMS for customer-managed keys (kms.tf).
resource "google_project_service" "edge" {
  for_each = toset(concat(
    local.lb_enabled ? ["compute.googleapis.com"] : [],
    var.cmek.enabled ? ["cloudkms.googleapis.com"] : [],
  ))

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}
