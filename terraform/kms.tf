# Customer-managed encryption keys (on when cmek.enabled): one Cloud KMS key each for the
# Firestore database, the Secret Manager secrets and the source bucket, each in the location
# the service requires (the database's KMS location, each secret replica's region or
# "global" for automatic replication, the bucket's region). Each service's own agent gets
# encrypt/decrypt on its key only. Keys rotate every cmek.rotation_period and cannot be
# destroyed by Terraform: data encrypted with a destroyed key is lost.
#
# Firestore takes its key only when the database is created; turning CMEK on for an
# existing database means a new database (see docs/deploy.md).

locals {
  # Firestore multi-regions map to KMS multi-regions; a regional database uses its region.
  firestore_kms_location = lookup({ eur3 = "europe", nam5 = "us" }, var.firestore.location, var.firestore.location)

  cmek_keys = var.cmek.enabled ? merge(
    {
      firestore = { location = local.firestore_kms_location, agent = "firestore" }
      storage   = { location = var.region, agent = "storage" }
    },
    length(var.secret_locations) == 0 ? { secrets-global = { location = "global", agent = "secretmanager" } } : {},
    { for r in var.secret_locations : "secrets-${r}" => { location = r, agent = "secretmanager" } },
  ) : {}

  service_agents = {
    firestore     = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-firestore.iam.gserviceaccount.com"
    secretmanager = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
    storage       = "serviceAccount:service-${data.google_project.this.number}@gs-project-accounts.iam.gserviceaccount.com"
  }

  cmek_key = { for k, v in google_kms_crypto_key.this : k => v.id }
}

resource "google_kms_key_ring" "this" {
  for_each = toset([for k in values(local.cmek_keys) : k.location])

  project  = var.project_id
  name     = "${local.prefix}-${each.key}"
  location = each.key

  depends_on = [google_project_service.edge]
}

resource "google_kms_crypto_key" "this" {
  # checkov:skip=CKV_GCP_43:rotation_period is var.cmek.rotation_period, which a validation in variables-cmek.tf holds to at most 90 days (7776000s); the scan cannot read variables.
  for_each = local.cmek_keys

  name            = "${local.prefix}-${each.key}"
  key_ring        = google_kms_key_ring.this[each.value.location].id
  rotation_period = var.cmek.rotation_period
  purpose         = "ENCRYPT_DECRYPT"
  labels          = local.labels

  lifecycle {
    prevent_destroy = true
  }
}

# The Firestore and Secret Manager agents exist only once asked for.
resource "google_project_service_identity" "cmek" {
  provider = google-beta
  for_each = var.cmek.enabled ? toset(["firestore.googleapis.com", "secretmanager.googleapis.com"]) : toset([])

  project = var.project_id
  service = each.key

  depends_on = [google_project_service.this]
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each = local.cmek_keys

  crypto_key_id = google_kms_crypto_key.this[each.key].id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.service_agents[each.value.agent]

  depends_on = [google_project_service_identity.cmek]
}
