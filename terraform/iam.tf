# Four service accounts, each with only what its job needs:
#   runtime  - the function itself: its own Firestore database, its own secrets, logs, metrics, traces.
#   build    - builds the function image from the source archive (Cloud Functions build).
#   tester   - runs cloudbuild.test.yaml (hash-locked install, lint, tests): it writes its build
#              logs and holds nothing else, so third-party test code finds no token worth taking.
#   deployer - runs cloudbuild.deploy.yaml once the tests passed: packages and `terraform apply`.
#              It installs no packages, and may grant only the roles this file grants (below).
# Cloud Build runs every step of a build as one account, hence two builds (build.tf).
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

resource "google_service_account" "tester" {
  project      = var.project_id
  account_id   = "${local.prefix}-tester"
  display_name = "${local.prefix} MCP tests"
  description  = "Runs the test build (lint and tests); writes its build logs and nothing else."
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "${local.prefix}-deployer"
  display_name = "${local.prefix} MCP deployer"
  description  = "Runs the deploy build once the tests passed: packaging and terraform apply."
}

locals {
  runtime_roles = toset([
    "roles/cloudtrace.agent", # tracing.exporter = "gcp" writes spans to Cloud Trace as this account
    "roles/datastore.user",   # in this deployment's database only (the condition below)
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])

  build_roles = toset([
    "roles/artifactregistry.writer",
    "roles/logging.logWriter",
  ])

  # The test build needs the cloud for nothing but its own logs (CLOUD_LOGGING_ONLY).
  tester_roles = toset([
    "roles/logging.logWriter",
  ])

  # What `terraform apply` of this directory needs. The deployer can change IAM, so the
  # deploy trigger asks for approval by default (build_trigger.approval_required).
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

  # The roles the deployer's Project IAM Admin may grant or revoke on the project: every role
  # this configuration grants there, and no other. The role that grants roles is not among
  # them: with it the deployer could grant itself an unconditional copy, then anything.
  # Changing this list (or the deployer's own grant) therefore takes a project owner's apply.
  grantable_roles = sort(setsubtract(
    setunion(local.runtime_roles, local.build_roles, local.tester_roles, local.deployer_roles),
    ["roles/resourcemanager.projectIamAdmin"],
  ))
}

resource "google_project_iam_member" "runtime" {
  for_each = local.runtime_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.runtime.member

  # Firestore's documented IAM condition: the role holds in the named database and no other.
  dynamic "condition" {
    for_each = each.value == "roles/datastore.user" ? [google_firestore_database.this.name] : []
    content {
      title       = "Only the ${condition.value} database"
      description = "The MCP function reads and writes its own Firestore database, no other in the project."
      expression  = "resource.name == \"projects/${var.project_id}/databases/${condition.value}\""
    }
  }
}

resource "google_project_iam_member" "tester" {
  for_each = local.tester_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.tester.member
}

resource "google_project_iam_member" "build" {
  for_each = local.build_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_project_iam_member" "deployer" {
  # checkov:skip=CKV_GCP_49:Managing the build triggers needs cloudbuild.builds.editor; the deployer acts only as this stack's accounts (granted per account below), may grant only local.grantable_roles, and its builds wait for approval.
  for_each = local.deployer_roles

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member

  # IAM's documented way to limit what a role-granting role may grant (modifiedGrantsByRole).
  dynamic "condition" {
    for_each = each.value == "roles/resourcemanager.projectIamAdmin" ? [local.grantable_roles] : []
    content {
      title       = "Grants only this deployment's roles"
      description = "The deployer may grant and revoke only the project roles its Terraform configuration grants."
      expression  = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${join(", ", [for r in condition.value : "'${r}'"])}])"
    }
  }
}

# The deployer attaches the runtime and build accounts to the function it deploys, runs the
# two triggers as the tester and itself, and keeps this stack's four accounts up to date -
# granted on each account, not the project.
resource "google_service_account_iam_member" "deployer" {
  for_each = {
    "runtime/roles/iam.serviceAccountUser"   = google_service_account.runtime.name
    "build/roles/iam.serviceAccountUser"     = google_service_account.build.name
    "tester/roles/iam.serviceAccountUser"    = google_service_account.tester.name
    "deployer/roles/iam.serviceAccountUser"  = google_service_account.deployer.name
    "runtime/roles/iam.serviceAccountAdmin"  = google_service_account.runtime.name
    "build/roles/iam.serviceAccountAdmin"    = google_service_account.build.name
    "tester/roles/iam.serviceAccountAdmin"   = google_service_account.tester.name
    "deployer/roles/iam.serviceAccountAdmin" = google_service_account.deployer.name
  }

  service_account_id = each.value
  role               = "roles/${split("/roles/", each.key)[1]}"
  member             = google_service_account.deployer.member
}
