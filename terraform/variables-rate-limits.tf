# Rate limits the application enforces across instances.

variable "rate_limits" {
  description = "Rate limits enforced across all instances: failed attempts per client address, requests per user, and calls per user per tool (N/second|minute|hour|day, or off); lease is how many units an instance takes per Firestore write; credit is how many units of a user or tool limit an instance admits per window before its first write (0: exact count, see docs/rate-limits.md)."
  type = object({
    ip     = optional(string, "60/minute")
    user   = optional(string, "600/minute")
    tool   = optional(string, "120/minute")
    lease  = optional(number, 10)
    credit = optional(number, 100)
  })
  default = {}

  validation {
    condition = alltrue([
      for r in [var.rate_limits.ip, var.rate_limits.user, var.rate_limits.tool] :
      can(regex("^(off|[0-9]+ */ *([0-9]+ *)?(second|minute|hour|day)s?)$", r))
    ])
    error_message = "rate_limits.ip, .user and .tool must look like 60/minute, 5000/hour, 100/5 minutes or off."
  }
  validation {
    condition     = var.rate_limits.lease >= 1 && var.rate_limits.lease <= 1000
    error_message = "rate_limits.lease must be between 1 and 1000."
  }
  validation {
    condition     = var.rate_limits.credit >= 0 && var.rate_limits.credit <= 1000 && floor(var.rate_limits.credit) == var.rate_limits.credit
    error_message = "rate_limits.credit must be a whole number between 0 and 1000."
  }
}
