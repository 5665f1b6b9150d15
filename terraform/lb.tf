# Custom domain: a global external Application Load Balancer in front of the function
# (on when var.domain is set).
#
# One global address and one Google-managed certificate for the domain; one serverless
# network endpoint group per region, all in one backend service (requests go to the nearest
# healthy region) with the Cloud Armor policy (armor.tf) and HSTS; port 80 only redirects to
# HTTPS. The function's ingress becomes ALLOW_INTERNAL_AND_GCLB (function.tf), and the
# application trusts X-Forwarded-For/-Proto only from this address (MCP_AUTH_TRUSTED_PROXIES).
#
# Point the domain's A record at output `load_balancer_ip`; the certificate turns ACTIVE
# once DNS resolves there (up to an hour).

locals {
  lb_count = local.lb_enabled ? 1 : 0
}

resource "google_compute_global_address" "this" {
  count = local.lb_count

  project = var.project_id
  name    = "${local.prefix}-lb"

  depends_on = [google_project_service.edge]
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.lb_enabled ? toset(local.regions) : toset([])

  project               = var.project_id
  name                  = "${local.prefix}-${each.key}"
  region                = each.key
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = local.function_services[each.key]
  }

  depends_on = [google_project_service.edge]
}

resource "google_compute_backend_service" "function" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${local.prefix}-function"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.this[0].id

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

resource "google_compute_managed_ssl_certificate" "this" {
  count = local.lb_count

  project = var.project_id
  name    = "${local.prefix}-${substr(sha256(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_project_service.edge]
}

resource "google_compute_ssl_policy" "this" {
  count = local.lb_count

  project         = var.project_id
  name            = "${local.prefix}-tls12"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.edge]
}

resource "google_compute_url_map" "https" {
  count = local.lb_count

  project         = var.project_id
  name            = "${local.prefix}-https"
  default_service = google_compute_backend_service.function[0].id
}

resource "google_compute_target_https_proxy" "this" {
  count = local.lb_count

  project          = var.project_id
  name             = "${local.prefix}-https"
  url_map          = google_compute_url_map.https[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.this[0].id]
  ssl_policy       = google_compute_ssl_policy.this[0].id
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${local.prefix}-https"
  ip_address            = google_compute_global_address.this[0].id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_https_proxy.this[0].id
}

# Port 80 answers only with a redirect to https (no backend behind it).
resource "google_compute_url_map" "redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${local.prefix}-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  count = local.lb_count

  project = var.project_id
  name    = "${local.prefix}-redirect"
  url_map = google_compute_url_map.redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = local.lb_count

  project               = var.project_id
  name                  = "${local.prefix}-http"
  ip_address            = google_compute_global_address.this[0].id
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  target                = google_compute_target_http_proxy.redirect[0].id
}

resource "google_project_service" "edge" {
  for_each = toset(concat(
    local.lb_enabled ? ["compute.googleapis.com"] : [],
    var.cmek.enabled ? ["cloudkms.googleapis.com"] : [],
  ))

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}
