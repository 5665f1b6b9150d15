# Continuous deployment: a push to the configured branch runs cloudbuild.yaml as the
# deployer account (install, lint, tests with emulators, package, terraform apply).
# The deployer may change IAM, so each build waits for approval unless told otherwise.

resource "google_cloudbuild_trigger" "deploy" {
  count = var.build_trigger.repository == null ? 0 : 1

  project         = var.project_id
  location        = var.region
  name            = "${local.prefix}-deploy"
  description     = "Test, package and deploy the ${local.prefix} MCP server."
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.deployer.id

  repository_event_config {
    repository = var.build_trigger.repository
    push {
      branch = var.build_trigger.branch
    }
  }

  approval_config {
    approval_required = var.build_trigger.approval_required
  }

  substitutions = {
    _TFVARS       = var.build_trigger.tfvars_file
    _STATE_BUCKET = var.build_trigger.state_bucket
    _STATE_PREFIX = "mcp-auth-server/${local.prefix}"
  }

  depends_on = [google_project_service.this]
}

# The deployer manages the source archives and the Terraform state, and nothing else in
# Cloud Storage.
resource "google_storage_bucket_iam_member" "deployer_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.admin"
  member = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "deployer_state" {
  count = var.build_trigger.state_bucket == null ? 0 : 1

  bucket = var.build_trigger.state_bucket
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}
