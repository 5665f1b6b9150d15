variable "project_id" {
  description = "Project that holds the load balancer, its certificate and its Cloud Armor policy."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "prefix" {
  description = "Start of every name this module gives a resource, so that several deployments can share a project."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "domain" {
  description = "DNS name clients use (e.g. mcp.example.com): the load balancer's Google-managed certificate is issued for it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase DNS name such as mcp.example.com (no scheme, port or path)."
  }
}

variable "services" {
  description = "The Cloud Run service behind the function in each region, by region: each gets a serverless network endpoint group in the one backend service."
  type        = map(string)

  validation {
    condition     = length(var.services) > 0 && alltrue([for r in keys(var.services) : can(regex("^[a-z]+-[a-z]+[0-9]$", r))])
    error_message = "services must map at least one region name (such as europe-west1) to the Cloud Run service there."
  }
}

variable "armor" {
  description = "Cloud Armor policy on the backend service, every field given (the root module's var.armor holds the defaults): per-client-IP throttle and ban thresholds, request size limit, preconfigured WAF rules, allow/deny source ranges."
  type = object({
    throttle_requests_per_minute = number
    ban_requests_per_minute      = number
    ban_duration_seconds         = number
    max_body_bytes               = number
    waf_rules                    = list(string)
    allow_ranges                 = list(string)
    deny_ranges                  = list(string)
  })

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
