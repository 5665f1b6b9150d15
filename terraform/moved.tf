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

# The load balancer and its Cloud Armor policy became one module (modules/edge), instantiated
# once when var.domain is set; every resource in it had count = 1 before.
moved {
  from = google_compute_global_address.this[0]
  to   = module.edge[0].google_compute_global_address.this
}

moved {
  from = google_compute_managed_ssl_certificate.this[0]
  to   = module.edge[0].google_compute_managed_ssl_certificate.this
}

moved {
  from = google_compute_ssl_policy.this[0]
  to   = module.edge[0].google_compute_ssl_policy.this
}

moved {
  from = google_compute_url_map.https[0]
  to   = module.edge[0].google_compute_url_map.https
}

moved {
  from = google_compute_target_https_proxy.this[0]
  to   = module.edge[0].google_compute_target_https_proxy.this
}

moved {
  from = google_compute_global_forwarding_rule.https[0]
  to   = module.edge[0].google_compute_global_forwarding_rule.https
}

moved {
  from = google_compute_url_map.redirect[0]
  to   = module.edge[0].google_compute_url_map.redirect
}

moved {
  from = google_compute_target_http_proxy.redirect[0]
  to   = module.edge[0].google_compute_target_http_proxy.redirect
}

moved {
  from = google_compute_global_forwarding_rule.http[0]
  to   = module.edge[0].google_compute_global_forwarding_rule.http
}

# Keyed by region before and after.
moved {
  from = google_compute_region_network_endpoint_group.function
  to   = module.edge[0].google_compute_region_network_endpoint_group.function
}

moved {
  from = google_compute_backend_service.function[0]
  to   = module.edge[0].google_compute_backend_service.function
}

moved {
  from = google_compute_security_policy.this[0]
  to   = module.edge[0].google_compute_security_policy.this
}
