# Three service accounts, each with only what its job needs:
#   runtime  - the function itself: Firestore, its own secrets, logs, metrics, traces.
#   build    - builds the function image from the source archive (Cloud Functions build).
#   deployer - runs cloudbuild.yaml from the trigger: tests, packages and `terraform apply`.
# Secret access is granted per secret, to the runtime account only (secrets.tf).

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${local.prefix}-runtime"
  display_name = "${local.prefix} MCP function runtime"
  description  = "Identity the MCP function runs as."
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.prefix}-build"
  display_name = "${local.prefix} MCP function build"
  description  = "Builds the MCP function image from its source archive."
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${local.prefix}-deployer"
  display_name = "${local.prefix} MCP deployer"
  description  = "Runs the Cloud Build pipeline: tests, packaging and terraform apply."
}

locals {
  runtime_roles = toset([
    "roles/cloudtrace.agent",
    "roles/datastore.user",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])

  build_roles = toset([
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
  ])

  # What `terraform apply` of this directory needs. The deployer can change IAM, so the
  # trigger asks for approval by default (build_trigger.approval_required).
  deployer_roles = toset([
    "roles/cloudbuild.builds.editor",
    "roles/cloudfunctions.developer",
    "roles/datastore.indexAdmin",
    "roles/datastore.owner",
    "roles/logging.configWriter",
    "roles/logging.logWriter",
    "roles/monitoring.editor",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/secretmanager.admin",
    "roles/serviceusage.serviceUsageAdmin",
  ])
}

resource "google_project_iam_member" "runtime" {
  for_each = local.runtime_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.runtime.member
}

resource "google_project_iam_member" "build" {
  for_each = local.build_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_project_iam_member" "deployer" {
  # checkov:skip=CKV_GCP_49:Managing the build trigger needs cloudbuild.builds.editor; the deployer acts only as this stack's accounts (granted per account below) and its builds wait for approval.
  for_each = local.deployer_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member
}

# The deployer attaches the runtime and build accounts to the function it deploys, and
# keeps this stack's three accounts up to date - granted on each account, not the project.
resource "google_service_account_iam_member" "deployer" {
  for_each = {
    "runtime/roles/iam.serviceAccountUser"   = google_service_account.runtime.name
    "build/roles/iam.serviceAccountUser"     = google_service_account.build.name
    "runtime/roles/iam.serviceAccountAdmin"  = google_service_account.runtime.name
    "build/roles/iam.serviceAccountAdmin"    = google_service_account.build.name
    "deployer/roles/iam.serviceAccountAdmin" = google_service_account.deployer.name
  }

  service_account_id = each.value
  role               = "roles/${split("/roles/", each.key)[1]}"
  member             = google_service_account.deployer.member
}
