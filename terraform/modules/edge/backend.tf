# The service in every region behind one backend service: a request goes to the nearest
# healthy region. HTTPS answers carry HSTS; every request is logged.

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = var.services

  project               = var.project_id
  name                  = "${var.prefix}-${each.key}"
  region                = each.key
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = each.value
  }
}

resource "google_compute_backend_service" "function" {
  project               = var.project_id
  name                  = "${var.prefix}-function"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.this.id

  custom_response_headers = ["Strict-Transport-Security: max-age=31536000; includeSubDomains"]

  dynamic "backend" {
    for_each = google_compute_region_network_endpoint_group.function
    content {
      group = backend.value.id
    }
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}
