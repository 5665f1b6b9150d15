# What the application accepts over HTTP: hosts, origins, body size, tool deadlines,
# streams.

variable "http" {
  description = "Edge limits: Host and Origin allowlists, the largest accepted request body, how long one tool call may run, the keep-alive interval of idle SSE streams, and whether tools may send requests (elicitation, sampling, roots) to handshake-era clients, whose replies are routed through Firestore (firestore) or refused (off)."
  type = object({
    allowed_hosts         = optional(list(string), [])
    allowed_origins       = optional(list(string), [])
    max_body_bytes        = optional(number, 1048576)
    tool_timeout_seconds  = optional(number, 60)
    sse_keepalive_seconds = optional(number, 15)
    backchannel           = optional(string, "firestore")
  })
  default = {}

  validation {
    condition     = contains(["firestore", "off"], var.http.backchannel)
    error_message = "http.backchannel must be firestore or off."
  }

  validation {
    condition     = var.http.sse_keepalive_seconds >= 1 && var.http.sse_keepalive_seconds <= 60
    error_message = "http.sse_keepalive_seconds must be between 1 and 60."
  }

  validation {
    condition     = var.http.tool_timeout_seconds >= 1 && var.http.tool_timeout_seconds <= 3600
    error_message = "http.tool_timeout_seconds must be between 1 and 3600."
  }

  validation {
    condition     = var.http.max_body_bytes >= 1024 && var.http.max_body_bytes <= 33554432
    error_message = "http.max_body_bytes must be between 1024 and 33554432 (32 MiB)."
  }
  validation {
    condition     = alltrue([for o in var.http.allowed_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "http.allowed_origins must be origins such as https://app.example.com (scheme and host, no path)."
  }
}
