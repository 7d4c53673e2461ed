data "aws_elasticache_user" "default" {
  user_id = "default"
}
