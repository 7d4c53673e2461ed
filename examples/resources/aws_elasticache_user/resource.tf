resource "aws_elasticache_user" "app" {
  user_id       = "app"
  user_name     = "app"
  engine        = "redis"
  access_string = "on ~app:* -@all +@read +@write"
  passwords     = [var.app_password]
}

variable "app_password" {
  type      = string
  sensitive = true
}
