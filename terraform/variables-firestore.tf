# The Firestore database that holds user records.

variable "firestore" {
  description = "Firestore database for user records: its id and location (a multi-region such as eur3 or nam5, or a region)."
  type = object({
    database_id = optional(string, "(default)")
    location    = optional(string, "eur3")
  })
  default = {}

  validation {
    condition     = var.firestore.database_id == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore.database_id))
    error_message = "firestore.database_id must be (default) or 4-63 lowercase letters, digits or hyphens starting with a letter."
  }
  validation {
    condition     = can(regex("^[a-z]+[0-9]*(-[a-z]+[0-9]+)?$", var.firestore.location))
    error_message = "firestore.location must be a Firestore location such as eur3, nam5 or europe-west1."
  }
}
