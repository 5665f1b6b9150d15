# Continuous deployment in two builds, because Cloud Build runs every step of one build as
# the same service account:
#
#   test    a push to a branch matching build_trigger.branch runs cloudbuild.test.yaml as the
#           tester account (iam.tf): hash-locked install, lint, the test suite. The tester
#           can write the build's logs and nothing else.
#   deploy  Cloud Build publishes every build's status changes on the project's cloud-builds
#           Pub/Sub topic. The deploy trigger listens there and, for a test build of
#           build_trigger.deploy_branch that succeeded, runs cloudbuild.deploy.yaml from that
#           branch as the deployer: it checks the test build through the Cloud Build API (same
#           trigger, same commit, SUCCESS), packages the source and applies. It installs no
#           packages. The deployer may change IAM, so it waits for approval unless told otherwise.

locals {
  build_triggers = var.build_trigger.repository == null ? 0 : 1
  deploy_ref     = "refs/heads/${var.build_trigger.deploy_branch}"
}

# Cloud Build publishes build notifications to a topic of this name when one exists.
resource "google_pubsub_topic" "build_events" {
  # checkov:skip=CKV_GCP_83:Build status messages carry build metadata (ids, status, substitutions), no user data or secrets; the data stores use CMEK when cmek.enabled.
  count = local.build_triggers

  project = var.project_id
  name    = "cloud-builds"

  depends_on = [google_project_service.this]
}

resource "google_cloudbuild_trigger" "test" {
  count = local.build_triggers

  project         = var.project_id
  location        = var.region
  name            = "${local.prefix}-test"
  description     = "Lint and test the ${local.prefix} MCP server from its hash-locked packages, as an account without cloud access."
  filename        = "cloudbuild.test.yaml"
  service_account = google_service_account.tester.id

  repository_event_config {
    repository = var.build_trigger.repository
    push {
      branch = var.build_trigger.branch
    }
  }

  depends_on = [google_project_service.this, google_project_iam_member.tester]
}

resource "google_cloudbuild_trigger" "deploy" {
  count = local.build_triggers

  project         = var.project_id
  location        = var.region
  name            = "${local.prefix}-deploy"
  description     = "Package and deploy the ${local.prefix} MCP server once a test build of ${var.build_trigger.deploy_branch} passed."
  service_account = google_service_account.deployer.id

  pubsub_config {
    topic = google_pubsub_topic.build_events[0].id
  }

  source_to_build {
    repository = var.build_trigger.repository
    ref        = local.deploy_ref
    repo_type  = var.build_trigger.repository_type
  }

  git_file_source {
    path       = "cloudbuild.deploy.yaml"
    repository = var.build_trigger.repository
    revision   = local.deploy_ref
    repo_type  = var.build_trigger.repository_type
  }

  # _EVENT_* come from the message and only choose which messages start a build; the deploy
  # build trusts none of them, and asks the Cloud Build API about _EVENT_BUILD instead.
  filter = join(" && ", [
    "_EVENT_STATUS == \"SUCCESS\"",
    "_EVENT_TRIGGER == \"${google_cloudbuild_trigger.test[0].trigger_id}\"",
    "_EVENT_BRANCH == \"${var.build_trigger.deploy_branch}\"",
  ])

  approval_config {
    approval_required = var.build_trigger.approval_required
  }

  substitutions = {
    _TFVARS        = var.build_trigger.tfvars_file
    _STATE_BUCKET  = var.build_trigger.state_bucket
    _STATE_PREFIX  = "mcp-auth-server/${local.prefix}"
    _REGION        = var.region
    _TEST_TRIGGER  = google_cloudbuild_trigger.test[0].trigger_id
    _EVENT_BUILD   = "$(body.message.attributes.buildId)"
    _EVENT_STATUS  = "$(body.message.attributes.status)"
    _EVENT_TRIGGER = "$(body.message.data.buildTriggerId)"
    _EVENT_BRANCH  = "$(body.message.data.substitutions.BRANCH_NAME)"
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

# The deployer keeps the build-events topic (and the deploy trigger's subscription to it) up
# to date: granted on that topic, not the project.
resource "google_pubsub_topic_iam_member" "deployer" {
  count = local.build_triggers

  project = var.project_id
  topic   = google_pubsub_topic.build_events[0].name
  role    = "roles/pubsub.admin"
  member  = google_service_account.deployer.member
}
