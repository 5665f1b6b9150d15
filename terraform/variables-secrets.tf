# Secret Manager: where payloads are kept, and the optional request-state key.

variable "secret_locations" {
  description = "Regions Secret Manager keeps secret payloads in; empty lets Google choose (automatic replication)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.secret_locations : can(regex("^[a-z]+-[a-z]+[0-9]$", r))])
    error_message = "secret_locations must be region names such as europe-west1."
  }
}

variable "request_state_key" {
  description = "Whether to create the secret whose key seals the requestState of multi-round-trip (input_required) calls, so a client's retry may reach any instance; turn on when a tool elicits, samples or lists roots."
  type        = bool
  default     = false
}
