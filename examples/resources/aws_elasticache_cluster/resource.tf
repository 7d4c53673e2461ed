resource "aws_elasticache_cluster" "example" {
  cluster_id           = "cluster-example"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  num_cache_nodes      = 1
  parameter_group_name = "default.redis7"

  tags = {
    Name = "cluster-example"
  }
}

resource "aws_elasticache_cluster" "memcached" {
  cluster_id      = "cluster-memcached"
  engine          = "memcached"
  node_type       = "cache.t3.micro"
  num_cache_nodes = 3
}
