# Customer-managed encryption keys (off by default).

variable "cmek" {
  description = "Customer-managed encryption keys (Cloud KMS) for Firestore, Secret Manager and the source bucket; off uses Google-managed keys."
  type = object({
    enabled         = optional(bool, false)
    rotation_period = optional(string, "7776000s")
  })
  default = {}

  validation {
    condition     = can(regex("^[0-9]+s$", var.cmek.rotation_period)) && try(tonumber(trimsuffix(var.cmek.rotation_period, "s")) <= 7776000 && tonumber(trimsuffix(var.cmek.rotation_period, "s")) >= 86400, false)
    error_message = "cmek.rotation_period must be a number of seconds from 86400s (1 day) to 7776000s (90 days)."
  }
}
