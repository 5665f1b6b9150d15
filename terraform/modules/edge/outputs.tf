output "address" {
  description = "The global IPv4 address clients reach: the domain's A record points here, and the function trusts X-Forwarded-For only from it."
  value       = google_compute_global_address.this.address
}
