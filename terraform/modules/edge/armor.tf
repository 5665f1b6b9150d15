# Cloud Armor on the load balancer's backend service (backend.tf).
#
# Rules, first match wins (lower priority number first):
#   1000  deny armor.deny_ranges
#   2000  deny bodies larger than armor.max_body_bytes (by Content-Length; the application
#         still enforces MCP_AUTH_MAX_BODY_BYTES on every body, chunked or not)
#   3000  per client IP: above armor.throttle_requests_per_minute answer 429; above
#         armor.ban_requests_per_minute ban the address for armor.ban_duration_seconds
#   3900  the Log4Shell canary (CVE-2021-44228), always on
#   4000+ preconfigured WAF rules (armor.waf_rules), JSON bodies parsed as JSON
#   9000  allow armor.allow_ranges; with an allowlist, everything else is denied
#
# WAF rule sets left out on purpose: sqli, xss, lfi, rfi, rce, php, java, nodejs. MCP
# requests are JSON-RPC whose arguments are free text written by models and people (code,
# SQL, file paths, HTML), so those signatures would block ordinary tool calls. The default
# set (method enforcement, scanner detection, protocol attacks, session fixation) and the
# Log4Shell canary look at the request line, headers and `${jndi:` lookups, which JSON-RPC
# traffic never needs.

locals {
  waf_priorities = { for i, name in var.armor.waf_rules : name => 4000 + i }
}

resource "google_compute_security_policy" "this" {
  project     = var.project_id
  name        = "${var.prefix}-armor"
  description = "Rate limits, size limit, WAF and source ranges for ${var.prefix}."

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  dynamic "rule" {
    for_each = length(var.armor.deny_ranges) > 0 ? [1] : []
    content {
      priority    = 1000
      action      = "deny(403)"
      description = "Denied source ranges (armor.deny_ranges)."
      match {
        versioned_expr = "SRC_IPS_V1"
        config {
          src_ip_ranges = var.armor.deny_ranges
        }
      }
    }
  }

  rule {
    priority    = 2000
    action      = "deny(403)"
    description = "Request body larger than armor.max_body_bytes."
    match {
      expr {
        expression = "has(request.headers['content-length']) && int(request.headers['content-length']) > ${var.armor.max_body_bytes}"
      }
    }
  }

  rule {
    priority    = 3000
    action      = "rate_based_ban"
    description = "Per client IP: throttle, then ban."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      enforce_on_key   = "IP"
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      ban_duration_sec = var.armor.ban_duration_seconds
      rate_limit_threshold {
        count        = var.armor.throttle_requests_per_minute
        interval_sec = 60
      }
      ban_threshold {
        count        = var.armor.ban_requests_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    priority    = 3900
    action      = "deny(403)"
    description = "Log4Shell (CVE-2021-44228) lookups."
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  dynamic "rule" {
    for_each = local.waf_priorities
    content {
      priority    = rule.value
      action      = "deny(403)"
      description = "Preconfigured WAF rule set ${rule.key}."
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.key}', {'sensitivity': 1})"
        }
      }
    }
  }

  dynamic "rule" {
    for_each = length(var.armor.allow_ranges) > 0 ? [1] : []
    content {
      priority    = 9000
      action      = "allow"
      description = "Allowed source ranges (armor.allow_ranges)."
      match {
        versioned_expr = "SRC_IPS_V1"
        config {
          src_ip_ranges = var.armor.allow_ranges
        }
      }
    }
  }

  rule {
    priority    = 2147483647
    action      = length(var.armor.allow_ranges) > 0 ? "deny(403)" : "allow"
    description = "Default: allow, or deny when an allowlist is set."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
