# A replication group is imported by its id (or id@region).
terraform import aws_elasticache_replication_group.example rg-example
