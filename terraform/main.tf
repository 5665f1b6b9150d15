# Names, labels and URLs every other file builds on.

locals {
  # Every resource name starts with the prefix, so several deployments can share a project.
  prefix = var.name

  labels = merge(var.labels, {
    app        = "mcp-auth-server"
    deployment = var.name
  })

  # The function's Cloud Run service has a deterministic URL:
  # https://SERVICE-PROJECT_NUMBER.REGION.run.app. A custom domain replaces it.
  base_url = coalesce(
    var.public_base_url,
    "https://${local.prefix}-${data.google_project.this.number}.${var.region}.run.app",
  )
  mcp_url = "${local.base_url}/mcp"
  prm_url = "${local.base_url}/.well-known/oauth-protected-resource/mcp"
}

data "google_project" "this" {
  project_id = var.project_id
}
