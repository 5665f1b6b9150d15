# The function: its source, runtime shape, who may invoke it, and its per-instance
# caches.

variable "source_archive" {
  description = "Path of the function source archive built by scripts/package.py; null means build/function-source.zip at the repository root."
  type        = string
  default     = null
}

variable "function" {
  description = "Runtime shape of the Cloud Run function: runtime, entry point, toolset factory, resources, scaling, ingress."
  type = object({
    runtime         = optional(string, "python312")
    entry_point     = optional(string, "mcp")
    factory         = optional(string, "factory:FACTORY")
    memory          = optional(string, "512Mi")
    cpu             = optional(string, "1")
    concurrency     = optional(number, 40)
    timeout_seconds = optional(number, 300)
    min_instances   = optional(number, 0) # > 0: no cold start for that many instances, billed while idle (docs/deploy.md, Cold starts)
    max_instances   = optional(number, 20)
    ingress         = optional(string, "ALLOW_ALL")
  })
  default = {}

  validation {
    condition     = can(regex("^python3(1[1-9])$", var.function.runtime))
    error_message = "function.runtime must be python311 or newer (python311, python312, python313)."
  }
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.function.entry_point))
    error_message = "function.entry_point must be a Python function name defined in functions/main.py."
  }
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", var.function.factory))
    error_message = "function.factory must be module:attribute naming the ToolsetFactory, e.g. factory:FACTORY."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function.memory))
    error_message = "function.memory must be a size such as 512Mi or 2Gi."
  }
  validation {
    condition     = contains(["0.5", "1", "2", "4", "6", "8"], var.function.cpu)
    error_message = "function.cpu must be one of 0.5, 1, 2, 4, 6 or 8."
  }
  validation {
    condition     = var.function.concurrency >= 1 && var.function.concurrency <= 1000 && (var.function.concurrency == 1 || var.function.cpu != "0.5")
    error_message = "function.concurrency must be 1-1000, and more than 1 needs at least 1 CPU."
  }
  validation {
    condition     = var.function.timeout_seconds >= 1 && var.function.timeout_seconds <= 3600
    error_message = "function.timeout_seconds must be between 1 and 3600."
  }
  validation {
    condition     = var.function.min_instances >= 0 && var.function.max_instances >= 1 && var.function.min_instances <= var.function.max_instances
    error_message = "function.min_instances must be 0 or more and not above function.max_instances (at least 1)."
  }
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function.ingress)
    error_message = "function.ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "public_invoker" {
  description = "Let anyone reach the function (allUsers as Cloud Run invoker); the application authenticates every MCP request itself. false requires Google identity tokens or IAP in front (see docs/deploy.md)."
  type        = bool
  default     = true
}

variable "cache" {
  description = "Per-instance caches: how many per-user MCP servers stay built, how long a user record is trusted, and how often secrets are reread."
  type = object({
    server_cache_size      = optional(number, 1024)
    user_cache_ttl         = optional(number, 30)
    secret_refresh_seconds = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.cache.server_cache_size >= 1 && var.cache.server_cache_size <= 1000000
    error_message = "cache.server_cache_size must be between 1 and 1000000."
  }
  validation {
    condition     = var.cache.user_cache_ttl >= 0 && var.cache.user_cache_ttl <= 3600
    error_message = "cache.user_cache_ttl must be between 0 and 3600 seconds."
  }
  validation {
    condition     = var.cache.secret_refresh_seconds >= 1 && var.cache.secret_refresh_seconds <= 86400
    error_message = "cache.secret_refresh_seconds must be between 1 and 86400 seconds."
  }
}
