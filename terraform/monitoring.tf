# Log-based metrics, alert policies, an uptime check on /healthz and a dashboard.
#
# Requests and latency come from Cloud Run's own request log. Auth failures and tool errors
# come from the function's audit records (lib/mcp_auth/observe.py): one line per MCP request
# with jsonPayload.audit true, jsonPayload.auth.decision and .reason (why a request was refused),
# jsonPayload.mcp.method and .tool (which tool was called) and jsonPayload.outcome. Active users come
# from jsonPayload.user_active, true on the request line of a user's first request in the hour on an
# instance (docs/operations.md: why no metric carries the user id as a label, and the exact query).
# tests/terraform/test_log_metrics.py runs these filters against lines the function really writes.

locals {
  log_filters = {
    auth_failure = "jsonPayload.audit=true AND jsonPayload.auth.decision=\"denied\""
    tool_error   = "jsonPayload.audit=true AND jsonPayload.mcp.method=\"tools/call\" AND jsonPayload.outcome!=\"ok\""
    user_active  = "jsonPayload.user_active=true"
  }

  run_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${local.prefix}\"",
  ])

  uptime_host = trimprefix(local.base_url, "https://")
}

resource "google_logging_metric" "requests" {
  project     = var.project_id
  name        = "${local.prefix}/requests"
  description = "HTTP requests served by the MCP function, by status code."
  filter      = "${local.run_filter} AND log_id(\"run.googleapis.com/requests\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status code."
    }
  }
  label_extractors = {
    status = "EXTRACT(httpRequest.status)"
  }
}

resource "google_logging_metric" "latency" {
  project         = var.project_id
  name            = "${local.prefix}/latency"
  description     = "Latency of requests served by the MCP function."
  filter          = "${local.run_filter} AND log_id(\"run.googleapis.com/requests\")"
  value_extractor = "EXTRACT(httpRequest.latency)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.4
      scale              = 0.005
    }
  }
}

resource "google_logging_metric" "auth_failures" {
  project     = var.project_id
  name        = "${local.prefix}/auth_failures"
  description = "Requests refused by authentication or authorization, by reason."
  filter      = "${local.run_filter} AND ${local.log_filters.auth_failure}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "Why the request was refused (invalid_token, expired_token, insufficient_scope, ...)."
    }
  }
  label_extractors = {
    reason = "EXTRACT(jsonPayload.auth.reason)"
  }
}

resource "google_logging_metric" "tool_errors" {
  project     = var.project_id
  name        = "${local.prefix}/tool_errors"
  description = "Tool calls that failed, by tool."
  filter      = "${local.run_filter} AND ${local.log_filters.tool_error}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "tool"
      value_type  = "STRING"
      description = "Name of the tool whose call failed."
    }
  }
  label_extractors = {
    tool = "EXTRACT(jsonPayload.mcp.tool)"
  }
}

# Distinct active users without a per-user label (unbounded label values would make a series per
# user): each instance marks a user's first request in each hour, so the sum over an hour counts
# users, once per instance that served them in that hour.
resource "google_logging_metric" "active_users" {
  project     = var.project_id
  name        = "${local.prefix}/active_users"
  description = "Users served for the first time in the current hour by an instance (sum over an hour: active users)."
  filter      = "${local.run_filter} AND ${local.log_filters.user_active}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_uptime_check_config" "health" {
  project      = var.project_id
  display_name = "${local.prefix} /healthz"
  timeout      = "10s"
  period       = "300s"

  http_check {
    path         = "/healthz"
    port         = 443
    use_ssl      = true
    validate_ssl = true
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = local.uptime_host
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_monitoring_alert_policy" "errors" {
  project               = var.project_id
  display_name          = "${local.prefix}: 5xx ratio above ${var.alerting.error_ratio_threshold * 100}%"
  combiner              = "OR"
  notification_channels = var.alerting.notification_channels

  conditions {
    display_name = "5xx responses / all responses"
    condition_threshold {
      filter             = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.status=monitoring.regex.full_match(\"5[0-9][0-9]\")"
      denominator_filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.requests.name}\" AND resource.type=\"cloud_run_revision\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alerting.error_ratio_threshold
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "More than ${var.alerting.error_ratio_threshold * 100}% of MCP requests failed with a 5xx for 5 minutes. Check the function's logs for the error."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "auth_failures" {
  project               = var.project_id
  display_name          = "${local.prefix}: auth failures above ${var.alerting.auth_failure_threshold} per 5 minutes"
  combiner              = "OR"
  notification_channels = var.alerting.notification_channels

  conditions {
    display_name = "Refused requests"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.auth_failures.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerting.auth_failure_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "Many requests were refused by authentication. The `reason` label of the auth_failures metric tells expired tokens from forged ones."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "uptime" {
  project               = var.project_id
  display_name          = "${local.prefix}: /healthz failing"
  combiner              = "OR"
  notification_channels = var.alerting.notification_channels

  conditions {
    display_name = "Uptime check failed"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.health.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "600s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.host"]
      }
    }
  }

  documentation {
    content   = "The health endpoint of the MCP function failed from more than one checker location for 10 minutes."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_dashboard" "this" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${local.prefix} MCP server"
    mosaicLayout = {
      columns = 12
      tiles = [for i, chart in [
        { title = "Requests by status", metric = google_logging_metric.requests.name, aligner = "ALIGN_RATE", group = ["metric.label.status"] },
        { title = "Latency p50 / p95 / p99", metric = google_logging_metric.latency.name, aligner = "ALIGN_PERCENTILE_95", group = [] },
        { title = "Auth failures by reason", metric = google_logging_metric.auth_failures.name, aligner = "ALIGN_RATE", group = ["metric.label.reason"] },
        { title = "Tool errors by tool", metric = google_logging_metric.tool_errors.name, aligner = "ALIGN_RATE", group = ["metric.label.tool"] },
        { title = "Active users per hour", metric = google_logging_metric.active_users.name, aligner = "ALIGN_SUM", group = [], period = "3600s", reducer = "REDUCE_SUM" },
        ] : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = chart.title
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = "metric.type=\"logging.googleapis.com/user/${chart.metric}\" AND resource.type=\"cloud_run_revision\""
                  aggregation = {
                    alignmentPeriod    = try(chart.period, "60s")
                    perSeriesAligner   = chart.aligner
                    crossSeriesReducer = try(chart.reducer, length(chart.group) > 0 ? "REDUCE_SUM" : "REDUCE_NONE")
                    groupByFields      = chart.group
                  }
                }
              }
            }]
          }
        }
      }]
    }
  })
}
