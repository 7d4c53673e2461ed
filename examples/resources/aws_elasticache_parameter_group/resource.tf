resource "aws_elasticache_parameter_group" "default" {
  name   = "cache-params"
  family = "redis7"

  parameter {
    name  = "activerehashing"
    value = "yes"
  }

  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }

  tags = {
    Name = "cache-params"
  }
}
