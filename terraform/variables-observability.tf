# Logs, alerts, the audit trail and traces.

variable "log_level" {
  description = "Log level of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "alerting" {
  description = "Where alerts go and when they fire: notification channel ids, 5xx ratio and auth failures per 5 minutes."
  type = object({
    notification_channels  = optional(list(string), [])
    error_ratio_threshold  = optional(number, 0.05)
    auth_failure_threshold = optional(number, 100)
  })
  default = {}

  validation {
    condition     = var.alerting.error_ratio_threshold > 0 && var.alerting.error_ratio_threshold < 1
    error_message = "alerting.error_ratio_threshold must be a fraction between 0 and 1, e.g. 0.05 for 5%."
  }
  validation {
    condition     = var.alerting.auth_failure_threshold >= 1
    error_message = "alerting.auth_failure_threshold must be at least 1."
  }
}

variable "audit" {
  description = "Audit trail: each request's log line is the audit record; firestore = true also copies every record to the Firestore audit collection, deleted by TTL after retention_days days."
  type = object({
    firestore      = optional(bool, false)
    retention_days = optional(number, 30)
  })
  default = {}

  validation {
    condition     = var.audit.retention_days >= 1 && var.audit.retention_days <= 3650 && floor(var.audit.retention_days) == var.audit.retention_days
    error_message = "audit.retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "tracing" {
  description = "OpenTelemetry traces, one span per request (user as enduser.id) and one per outbound call, keeping what sampler (and sample_ratio) select: exporter = \"gcp\" writes them straight to Cloud Trace in project_id (the runtime account holds roles/cloudtrace.agent), \"otlp\" sends them over OTLP/HTTP to otlp_endpoint, a collector the function can reach, \"none\" sends nothing."
  type = object({
    exporter      = optional(string, "none")
    otlp_endpoint = optional(string)
    service_name  = optional(string)
    sampler       = optional(string, "parentbased_always_on")
    sample_ratio  = optional(number, 1)
  })
  default = {}

  validation {
    condition     = contains(["none", "otlp", "gcp"], var.tracing.exporter)
    error_message = "tracing.exporter must be none, otlp (a collector) or gcp (Cloud Trace)."
  }
  validation {
    condition     = var.tracing.exporter != "otlp" || can(regex("^https?://[^/?#]+(/[^?#]*)?$", var.tracing.otlp_endpoint))
    error_message = "tracing.otlp_endpoint must be the http(s) base URL of an OTLP/HTTP collector (e.g. https://otel-collector.example:4318) when tracing.exporter is otlp."
  }
  validation {
    condition     = var.tracing.service_name == null || can(regex("^[A-Za-z0-9._-]{1,100}$", var.tracing.service_name))
    error_message = "tracing.service_name must be 1-100 letters, digits, '.', '_' or '-'."
  }
  validation {
    condition     = contains(["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"], var.tracing.sampler)
    error_message = "tracing.sampler must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio."
  }
  validation {
    condition     = var.tracing.sample_ratio >= 0 && var.tracing.sample_ratio <= 1
    error_message = "tracing.sample_ratio must be between 0 and 1 (the share of traces the traceidratio samplers keep)."
  }
}
