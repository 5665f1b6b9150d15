# The public URL, and the edge in front of the function (off by default): custom domain,
# load balancer, Cloud Armor, more regions.

variable "public_base_url" {
  description = "Public https:// origin clients use, when a custom domain fronts the function; null uses the function's own run.app URL."
  type        = string
  default     = null

  validation {
    condition     = var.public_base_url == null || can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", var.public_base_url))
    error_message = "public_base_url must be an https:// origin without a path or trailing slash, e.g. https://mcp.example.com."
  }
}

variable "domain" {
  description = "Custom domain (e.g. mcp.example.com) served by a global external Application Load Balancer with a Google-managed certificate; null serves the function's run.app URL. When set, it is the public URL, the PRM resource and the token audience in every region."
  type        = string
  default     = null

  validation {
    condition     = var.domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase DNS name such as mcp.example.com (no scheme, port or path)."
  }
}

variable "regions" {
  description = "More regions to run the same function in, behind the one global address (needs domain). The function in var.region always exists; these are added."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]+-[a-z]+[0-9]$", r))])
    error_message = "regions must be region names such as us-central1 or asia-northeast1."
  }
}

variable "armor" {
  description = "Cloud Armor policy on the load balancer's backend (used when domain is set): per-client-IP throttle and ban thresholds, request size limit, preconfigured WAF rules, allow/deny source ranges."
  type = object({
    throttle_requests_per_minute = optional(number, 300)
    ban_requests_per_minute      = optional(number, 1200)
    ban_duration_seconds         = optional(number, 600)
    max_body_bytes               = optional(number, 1048576)
    waf_rules                    = optional(list(string), ["methodenforcement-v33-stable", "scannerdetection-v33-stable", "protocolattack-v33-stable", "sessionfixation-v33-stable"])
    allow_ranges                 = optional(list(string), [])
    deny_ranges                  = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.armor.throttle_requests_per_minute >= 1 && var.armor.ban_requests_per_minute >= var.armor.throttle_requests_per_minute
    error_message = "armor.throttle_requests_per_minute must be at least 1, and armor.ban_requests_per_minute at least the throttle threshold."
  }
  validation {
    condition     = var.armor.ban_duration_seconds >= 60 && var.armor.max_body_bytes >= 1024
    error_message = "armor.ban_duration_seconds must be at least 60 and armor.max_body_bytes at least 1024."
  }
  validation {
    condition     = alltrue([for r in concat(var.armor.allow_ranges, var.armor.deny_ranges) : can(cidrhost(r, 0))])
    error_message = "armor.allow_ranges and armor.deny_ranges must be CIDR ranges such as 203.0.113.0/24."
  }
  validation {
    condition     = length(var.armor.allow_ranges) <= 10 && length(var.armor.deny_ranges) <= 10
    error_message = "Cloud Armor takes at most 10 ranges per rule: list at most 10 allow_ranges and 10 deny_ranges."
  }
}
