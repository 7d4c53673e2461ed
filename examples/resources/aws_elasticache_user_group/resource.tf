resource "aws_elasticache_user_group" "app" {
  user_group_id = "app"
  engine        = "redis"
  user_ids      = ["default"]
}
