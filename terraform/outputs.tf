output "mcp_url" {
  description = "URL to give MCP clients (Claude, VS Code, Cursor, ChatGPT, ...)."
  value       = local.mcp_url
}

output "prm_url" {
  description = "OAuth protected-resource metadata (RFC 9728) of the MCP endpoint."
  value       = local.prm_url
}

output "function_uri" {
  description = "The function's own Cloud Run URL (hash form), also served when a custom domain is in front."
  value       = google_cloudfunctions2_function.server["primary"].service_config[0].uri
}

output "service_accounts" {
  description = "Emails of the runtime, build and deployer service accounts."
  value = {
    runtime  = google_service_account.runtime.email
    build    = google_service_account.build.email
    deployer = google_service_account.deployer.email
  }
}

output "secrets_to_fill" {
  description = "Secret Manager secrets to give a value before the first request, by the setting that names them, with the command that adds a version."
  value = {
    for setting, s in google_secret_manager_secret.this : setting => {
      secret_id = s.secret_id
      fill_with = "gcloud secrets versions add ${s.secret_id} --project=${var.project_id} --data-file=-"
    }
  }
}

output "source_bucket" {
  description = "Bucket holding the function source archives."
  value       = google_storage_bucket.source.name
}

output "firestore_database" {
  description = "Firestore database holding user records (users/{uid})."
  value       = google_firestore_database.this.name
}

output "load_balancer_ip" {
  description = "The custom domain's global address: point the domain's A record here (null without domain)."
  value       = one(module.edge[*].address)
}

output "regions" {
  description = "Regions the function runs in (var.region first)."
  value       = local.regions
}
