# A cluster is imported by its cluster id.
terraform import aws_elasticache_cluster.example cluster-example
