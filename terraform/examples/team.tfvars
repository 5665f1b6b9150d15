# One file per team: copy, rename and fill. Apply with
#   terraform -chdir=terraform apply -var-file=examples/team.tfvars
project_id = "acme-mcp-prod"
region     = "europe-west1"
name       = "acme-mcp"

labels = {
  team = "platform"
}

# The scopes advertised are those the toolsets in functions/ use; a new user gets the default
# toolsets with the default scopes (`mcp-auth check` refuses defaults that would give no tool).
auth = {
  jwt_issuer            = "https://auth.acme.example"
  authorization_servers = ["https://auth.acme.example"]
  first_login           = "create"
  default_toolsets      = ["basics", "notes"]
  default_scopes        = ["mcp:tools", "notes:read", "notes:write"]
}

# The built-in authorization server, used when auth.providers lists "oauth" (MCP clients then sign
# in with the company's Google Workspace; docs/authorization-server.md has Entra ID, Okta, Auth0 and
# Keycloak, and group_grants for providers that send groups).
oauth = {
  upstream_preset = "google"
  allowed_domains = ["acme.example"]
}

http = {
  allowed_origins = ["https://claude.ai", "https://chatgpt.com"]
}

function = {
  min_instances = 1
  max_instances = 50
}

firestore = {
  location = "eur3"
}

build_trigger = {
  repository   = "projects/acme-mcp-prod/locations/europe-west1/connections/github/repositories/acme-mcp-server"
  tfvars_file  = "terraform/examples/team.tfvars"
  state_bucket = "acme-mcp-prod-tfstate"
}

alerting = {
  notification_channels = ["projects/acme-mcp-prod/notificationChannels/1234567890"]
}

# Custom domain, Cloud Armor, more regions, customer-managed keys: off until set
# (docs/deploy.md, "Custom domain and multiple regions").
# domain  = "mcp.acme.example"
# regions = ["us-central1"]
# armor   = { throttle_requests_per_minute = 300, ban_requests_per_minute = 1200 }
# cmek    = { enabled = true }
