data "aws_elasticache_reserved_cache_node_offering" "example" {
  cache_node_type     = "cache.t4g.small"
  duration            = "P3Y"
  offering_type       = "All Upfront"
  product_description = "valkey"
}
