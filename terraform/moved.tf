# Addresses of earlier layouts, so that `terraform apply` of a deployment made with one moves
# its objects to their new addresses instead of destroying and recreating them. Keep these
# blocks: a deployment may skip versions. tests/terraform/test_moved.py plans an upgrade from
# the earlier addresses.

# One function resource for every region (it was one for var.region and one for var.regions).
# var.region's function keeps the literal key "primary" (a moved block cannot name a variable);
# the others keep their region as key.
moved {
  from = google_cloudfunctions2_function.this
  to   = google_cloudfunctions2_function.server["primary"]
}

moved {
  from = google_cloudfunctions2_function.extra
  to   = google_cloudfunctions2_function.server
}

moved {
  from = google_cloud_run_v2_service_iam_member.public_invoker[0]
  to   = google_cloud_run_v2_service_iam_member.public["primary"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.public_invoker_extra
  to   = google_cloud_run_v2_service_iam_member.public
}
