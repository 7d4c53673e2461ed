data "aws_elasticache_reserved_cache_node_offering" "t3_micro" {
  cache_node_type     = "cache.t3.micro"
  duration            = "P1Y"
  offering_type       = "No Upfront"
  product_description = "redis"
}

resource "aws_elasticache_reserved_cache_node" "t3_micro" {
  reserved_cache_nodes_offering_id = data.aws_elasticache_reserved_cache_node_offering.t3_micro.offering_id
  id                               = "my-reservation"
  cache_node_count                 = 1
}
