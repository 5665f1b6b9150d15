# Names, labels and URLs every other file builds on.

locals {
  # Every resource name starts with the prefix, so several deployments can share a project.
  prefix = var.name

  # The edge (edge.tf): on when a custom domain is set. var.region always has the function;
  # var.regions adds more behind the same global address (function.tf).
  lb_enabled    = var.domain != null
  extra_regions = toset([for r in var.regions : r if r != var.region])
  regions       = concat([var.region], sort(tolist(local.extra_regions)))

  labels = merge(var.labels, {
    app        = "mcp-auth-server"
    deployment = var.name
  })

  # The function's Cloud Run service has a deterministic URL:
  # https://SERVICE-PROJECT_NUMBER.REGION.run.app. A custom domain replaces it.
  # With a custom domain (edge.tf) every region answers under it, so tokens carry one audience.
  base_url = local.lb_enabled ? "https://${var.domain}" : coalesce(
    var.public_base_url,
    "https://${local.prefix}-${data.google_project.this.number}.${var.region}.run.app",
  )
  mcp_url = "${local.base_url}/mcp"
  prm_url = "${local.base_url}/.well-known/oauth-protected-resource/mcp"
}

data "google_project" "this" {
  project_id = var.project_id
}
