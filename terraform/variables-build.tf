# Continuous deployment: the Cloud Build triggers.

variable "build_trigger" {
  description = "Cloud Build triggers: a push to a branch matching the branch regex runs the tests, and a test build of deploy_branch that passed starts the deploy (waiting for approval unless approval_required is false), which applies tfvars_file with its state in state_bucket; repository is the connected repository (2nd-gen resource name) and repository_type its host; a null repository means no triggers."
  type = object({
    repository        = optional(string)
    repository_type   = optional(string, "GITHUB")
    branch            = optional(string, "^main$")
    deploy_branch     = optional(string, "main")
    tfvars_file       = optional(string, "terraform/examples/team.tfvars")
    state_bucket      = optional(string)
    approval_required = optional(bool, true)
  })
  default = {}

  validation {
    condition     = var.build_trigger.repository == null || can(regex("^projects/[^/]+/locations/[^/]+/connections/[^/]+/repositories/[^/]+$", var.build_trigger.repository))
    error_message = "build_trigger.repository must be projects/P/locations/R/connections/C/repositories/NAME (a Cloud Build 2nd-gen repository)."
  }
  validation {
    condition     = var.build_trigger.repository == null || var.build_trigger.state_bucket != null
    error_message = "build_trigger.state_bucket is required with a trigger: the deploy step keeps Terraform state there."
  }
  validation {
    condition     = contains(["GITHUB", "GITLAB", "BITBUCKET_CLOUD", "BITBUCKET_SERVER"], var.build_trigger.repository_type)
    error_message = "build_trigger.repository_type must be GITHUB, GITLAB, BITBUCKET_CLOUD or BITBUCKET_SERVER (where the connected repository is hosted)."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.build_trigger.deploy_branch)) && can(regex(var.build_trigger.branch, var.build_trigger.deploy_branch))
    error_message = "build_trigger.deploy_branch must be a branch name that build_trigger.branch matches: only a test build of that branch starts a deploy."
  }
}
