# Beside the default provider (the primary's region, here us-east-1), an
# aliased one for the secondary's region.
provider "aws" {
  alias  = "west"
  region = "us-west-2"
}

resource "aws_elasticache_replication_group" "primary" {
  replication_group_id = "example-primary"
  description          = "primary region"
  engine               = "redis"
  engine_version       = "7.0"
  node_type            = "cache.m5.large"
  num_cache_clusters   = 2

  # The datastore upgrades its members.
  lifecycle {
    ignore_changes = [engine_version]
  }
}

resource "aws_elasticache_global_replication_group" "example" {
  global_replication_group_id_suffix   = "example"
  primary_replication_group_id         = aws_elasticache_replication_group.primary.id
  global_replication_group_description = "one datastore, two regions"
  engine_version                       = "7.1"
}

resource "aws_elasticache_replication_group" "secondary" {
  provider = aws.west

  replication_group_id        = "example-secondary"
  description                 = "secondary region"
  global_replication_group_id = aws_elasticache_global_replication_group.example.global_replication_group_id
  num_cache_clusters          = 2
}
