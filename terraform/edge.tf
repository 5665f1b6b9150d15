# Custom domain: a global external Application Load Balancer with Cloud Armor in front of the
# function in every region (modules/edge), on when var.domain is set.
#
# The function's ingress becomes ALLOW_INTERNAL_AND_GCLB (function.tf), and the application
# trusts X-Forwarded-For/-Proto only from the load balancer's address
# (MCP_AUTH_TRUSTED_PROXIES). Point the domain's A record at output `load_balancer_ip`; the
# certificate turns ACTIVE once DNS resolves there (up to an hour).

module "edge" {
  source = "./modules/edge"
  count  = local.lb_enabled ? 1 : 0

  project_id = var.project_id
  prefix     = local.prefix
  domain     = var.domain
  services   = local.function_services
  armor      = var.armor

  depends_on = [google_project_service.edge]
}
