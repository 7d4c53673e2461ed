resource "aws_elasticache_replication_group" "example" {
  replication_group_id       = "rg-example"
  description                = "one primary, two replicas"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 3
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
}

resource "aws_elasticache_replication_group" "sharded" {
  replication_group_id       = "rg-sharded"
  description                = "two shards, one replica each"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  parameter_group_name       = "default.redis7.cluster.on"
  automatic_failover_enabled = true
  num_node_groups            = 2
  replicas_per_node_group    = 1
  port                       = 6379
}
