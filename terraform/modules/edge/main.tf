# A global external Application Load Balancer for one domain, in front of a Cloud Run service
# in one or more regions.
#
# One global address and one Google-managed certificate for the domain; one serverless
# network endpoint group per region, all in one backend service (requests go to the nearest
# healthy region, backend.tf) with the Cloud Armor policy (armor.tf) and HSTS; port 80 only
# redirects to HTTPS.
#
# Point the domain's A record at output `address`; the certificate turns ACTIVE once DNS
# resolves there (up to an hour).

resource "google_compute_global_address" "this" {
  project = var.project_id
  name    = "${var.prefix}-lb"
}

resource "google_compute_managed_ssl_certificate" "this" {
  project = var.project_id
  name    = "${var.prefix}-${substr(sha256(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "this" {
  project         = var.project_id
  name            = "${var.prefix}-tls12"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_url_map" "https" {
  project         = var.project_id
  name            = "${var.prefix}-https"
  default_service = google_compute_backend_service.function.id
}

resource "google_compute_target_https_proxy" "this" {
  project          = var.project_id
  name             = "${var.prefix}-https"
  url_map          = google_compute_url_map.https.id
  ssl_certificates = [google_compute_managed_ssl_certificate.this.id]
  ssl_policy       = google_compute_ssl_policy.this.id
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.prefix}-https"
  ip_address            = google_compute_global_address.this.id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_https_proxy.this.id
}

# Port 80 answers only with a redirect to https (no backend behind it).
resource "google_compute_url_map" "redirect" {
  project = var.project_id
  name    = "${var.prefix}-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  project = var.project_id
  name    = "${var.prefix}-redirect"
  url_map = google_compute_url_map.redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "${var.prefix}-http"
  ip_address            = google_compute_global_address.this.id
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_http_proxy.redirect.id
}
