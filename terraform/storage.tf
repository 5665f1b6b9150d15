# The bucket holding function source archives, and the archive of this checkout.
# The object name carries the archive's hash, so a new archive means a new object and a
# new function revision; old objects expire.

locals {
  source_archive = coalesce(var.source_archive, "${path.module}/../build/function-source.zip")
}

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_63:The bucket has no usage logging at all (see CKV_GCP_62), so it cannot log to itself.
  # checkov:skip=CKV_GCP_62:Holds only build inputs (source archives, no user data); Cloud Audit Logs record who changed them, so a second bucket for usage logs adds cost without insight.
  project                     = var.project_id
  name                        = "${var.project_id}-${local.prefix}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  dynamic "encryption" {
    for_each = var.cmek.enabled ? [1] : []
    content {
      default_kms_key_name = local.cmek_key["storage"]
    }
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this, google_kms_crypto_key_iam_member.agents]
}

resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "function-source/${fileexists(local.source_archive) ? filesha256(local.source_archive) : "missing"}.zip"
  source       = local.source_archive
  content_type = "application/zip"

  lifecycle {
    precondition {
      condition     = fileexists(local.source_archive)
      error_message = "No function source archive at ${local.source_archive}: build it first with `python scripts/package.py` (or set source_archive)."
    }
  }
}

# The build account reads the archive it builds.
resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}
