data "aws_elasticache_service_update_actions" "pending" {
  service_update_status = ["available"]
}
