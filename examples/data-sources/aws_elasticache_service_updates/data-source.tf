data "aws_elasticache_service_updates" "available" {
  status = ["available"]
}
