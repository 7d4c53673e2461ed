data "aws_elasticache_cluster" "example" {
  cluster_id = "cluster-example"
}
