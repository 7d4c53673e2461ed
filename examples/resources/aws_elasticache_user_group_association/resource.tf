resource "aws_elasticache_user" "reader" {
  user_id       = "reader"
  user_name     = "reader"
  engine        = "redis"
  access_string = "on ~* -@all +@read"
  authentication_mode {
    type = "no-password-required"
  }
}

resource "aws_elasticache_user_group" "app" {
  user_group_id = "app"
  engine        = "redis"
  user_ids      = ["default"]

  lifecycle {
    ignore_changes = [user_ids]
  }
}

resource "aws_elasticache_user_group_association" "reader" {
  user_group_id = aws_elasticache_user_group.app.user_group_id
  user_id       = aws_elasticache_user.reader.user_id
}
