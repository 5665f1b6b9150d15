# The team's platform that holds each user's downstream credentials (the token
# resolver).

variable "platform" {
  description = "The team's platform holding each user's downstream credentials (the token resolver): its credential API, whether the caller's token is forwarded, the credential-updated webhook, and the cache lifetime; a null url turns it off."
  type = object({
    url                  = optional(string)
    forward_user_token   = optional(bool, false)
    webhook              = optional(bool, true)
    credential_cache_ttl = optional(number, 300)
  })
  default = {}

  validation {
    condition     = var.platform.url == null || can(regex("^https://[^/]+", var.platform.url))
    error_message = "platform.url must be the https:// base URL of the platform's credential API."
  }
  validation {
    condition     = var.platform.credential_cache_ttl >= 1 && var.platform.credential_cache_ttl <= 3600
    error_message = "platform.credential_cache_ttl must be between 1 and 3600 seconds."
  }
}
