data "aws_elasticache_serverless_cache" "example" {
  name = "example"
}
