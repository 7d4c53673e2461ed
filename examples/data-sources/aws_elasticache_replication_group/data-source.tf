data "aws_elasticache_replication_group" "bar" {
  replication_group_id = "example"
}
