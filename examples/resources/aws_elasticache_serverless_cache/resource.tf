resource "aws_elasticache_serverless_cache" "example" {
  name                 = "example"
  engine               = "valkey"
  major_engine_version = "8"

  cache_usage_limits {
    data_storage {
      maximum = 10
      unit    = "GB"
    }
    ecpu_per_second {
      maximum = 5000
    }
  }

  daily_snapshot_time      = "09:00"
  snapshot_retention_limit = 1
}
